"""markroom's own check for schemathesis: a request the OpenAPI document calls valid may be
refused (400 or 422) only by a rule the document cannot express, one that spans fields or
depends on state, and the operation's description must name that rule's problem code."""

import schemathesis


@schemathesis.check
def refused_only_as_described(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code not in (400, 422):
        return None
    try:
        code = response.json().get("code")
    except ValueError:
        raise AssertionError("a refusal without its problem+json body")
    raw = case.operation.definition.raw
    described = (raw.get("description") or "") + (raw.get("summary") or "")
    if f"`{code}`" not in described:
        raise AssertionError(
            f"a schema-valid request was refused with `{code}`, which the description of "
            f"{case.operation.label} does not name as a rule across fields or of state"
        )
    return None
