// The tables as diesel sees them; the same for both backends (migrations/sqlite and
// migrations/postgres create them with portable types).

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        chief -> Bool,
        active -> Bool,
        token_version -> Integer,
        created_at -> Timestamp,
        created_by -> Nullable<Text>,
        full_name -> Text,
        id_document_hash -> Nullable<Text>,
        must_change_password -> Bool,
        one_time_password_expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    key_checks (name) {
        name -> Text,
        check_value -> Text,
    }
}

diesel::table! {
    login_throttle (username) {
        username -> Text,
        failures -> Integer,
        locked_until -> Nullable<Timestamp>,
        last_failure_at -> Timestamp,
    }
}

diesel::table! {
    workstations (id) {
        id -> Text,
        name -> Text,
        key_hash -> Text,
        active -> Bool,
        created_at -> Timestamp,
        created_by -> Nullable<Text>,
        scanner -> Bool,
    }
}

diesel::table! {
    service_clients (id) {
        id -> Text,
        name -> Text,
        secret_hash -> Text,
        active -> Bool,
        created_at -> Timestamp,
        created_by -> Nullable<Text>,
    }
}

diesel::table! {
    service_client_exams (exam_id, client_id) {
        exam_id -> Text,
        client_id -> Text,
    }
}

diesel::table! {
    exams (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        time_zone -> Text,
        window_start -> Timestamp,
        window_end -> Timestamp,
        room_open -> Bool,
        locked -> Bool,
        released -> Bool,
        settings -> Text,
        created_at -> Timestamp,
        created_by -> Text,
        rules -> Text,
        lock_approval_id -> Nullable<Text>,
        release_approval_id -> Nullable<Text>,
        locked_at -> Nullable<Timestamp>,
        released_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    amendments (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        script_id -> Text,
        question_id -> Text,
        old_score -> BigInt,
        score -> BigInt,
        reason -> Text,
        approval_id -> Text,
        amended_at -> Timestamp,
    }
}

diesel::table! {
    questions (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        code -> Text,
        position -> Integer,
        kind -> Text,
        max_score -> BigInt,
        step -> BigInt,
        tolerance -> BigInt,
        final_step -> BigInt,
        marks_required -> Integer,
        criteria -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sheet_templates (exam_id) {
        exam_id -> Text,
        body -> Text,
        updated_at -> Timestamp,
        updated_by -> Text,
    }
}

diesel::table! {
    leader_scopes (exam_id, user_id, question_id) {
        exam_id -> Text,
        user_id -> Text,
        question_id -> Text,
    }
}

diesel::table! {
    approvals (exam_id, id) {
        id -> Text,
        exam_id -> Text,
        kind -> Text,
        payload -> Text,
        status -> Text,
        requested_by -> Text,
        requested_at -> Timestamp,
        expires_at -> Timestamp,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        decision_note -> Nullable<Text>,
        pending_key -> Nullable<Text>,
    }
}

diesel::table! {
    account_approvals (id) {
        id -> Text,
        kind -> Text,
        payload -> Text,
        status -> Text,
        requested_by -> Text,
        requested_at -> Timestamp,
        expires_at -> Timestamp,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        decision_note -> Nullable<Text>,
        pending_key -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (chain, id) {
        id -> BigInt,
        chain -> Text,
        seq -> Nullable<BigInt>,
        at -> Timestamp,
        actor_id -> Nullable<Text>,
        actor_role -> Nullable<Text>,
        workstation_id -> Nullable<Text>,
        action -> Text,
        object_type -> Nullable<Text>,
        object_id -> Nullable<Text>,
        exam_id -> Nullable<Text>,
        outcome -> Text,
        details -> Text,
        request_id -> Nullable<Text>,
        prev_hash -> Nullable<Text>,
        hash -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log_general (id) {
        id -> BigInt,
        chain -> Text,
        seq -> Nullable<BigInt>,
        at -> Timestamp,
        actor_id -> Nullable<Text>,
        actor_role -> Nullable<Text>,
        workstation_id -> Nullable<Text>,
        action -> Text,
        object_type -> Nullable<Text>,
        object_id -> Nullable<Text>,
        exam_id -> Nullable<Text>,
        outcome -> Text,
        details -> Text,
        request_id -> Nullable<Text>,
        prev_hash -> Nullable<Text>,
        hash -> Nullable<Text>,
    }
}

diesel::table! {
    audit_head (chain) {
        chain -> Text,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    audit_head_general (chain) {
        chain -> Text,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::joinable!(questions -> exams (exam_id));
diesel::joinable!(service_client_exams -> exams (exam_id));
diesel::joinable!(service_client_exams -> service_clients (client_id));
diesel::joinable!(marker_exams -> markers (marker_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    login_throttle,
    workstations,
    service_clients,
    service_client_exams,
    exams,
    questions,
    sheet_templates,
    leader_scopes,
    approvals,
    account_approvals,
    audit_log,
    audit_log_general,
    audit_head,
    audit_head_general,
    key_checks,
    candidates,
    absences,
    duty_shifts,
    batches,
    handovers,
    handover_confirmations,
    sheets,
    sheet_pages,
    scripts,
    image_tokens,
    markers,
    relatives,
    marker_exams,
    marker_status_history,
    marker_reviews,
    trainings,
    marker_questions,
    certifications,
    prescored_scripts,
    qualification_attempts,
    qualification_tasks,
    discipline_entries,
    tasks,
    serves,
    script_holders,
    marks,
    seed_marks,
    self_checks,
    idempotency_keys,
    finals,
    disputes,
    backreads,
    problems,
    amendments,
);

diesel::table! {
    candidates (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        lookup -> Text,
        admission_sealed -> Text,
        name_sealed -> Text,
        school_code -> Text,
        district -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    absences (exam_id, candidate_id, question_id) {
        exam_id -> Text,
        candidate_id -> Text,
        question_id -> Text,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    duty_shifts (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        user_id -> Text,
        checked_in_at -> Timestamp,
        checked_out_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    batches (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        status -> Text,
        label -> Text,
        approval_id -> Text,
        opened_at -> Timestamp,
        released_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    handovers (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        batch_id -> Text,
        from_a -> Text,
        from_b -> Text,
        to_a -> Text,
        to_b -> Text,
        note -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    handover_confirmations (exam_id, handover_id, user_id) {
        exam_id -> Text,
        handover_id -> Text,
        user_id -> Text,
        confirmed_at -> Timestamp,
    }
}

diesel::table! {
    sheets (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        batch_id -> Text,
        candidate_lookup -> Text,
        candidate_sealed -> Text,
        status -> Text,
        entry -> Text,
        entered_by -> Text,
        confirmed_by -> Nullable<Text>,
        pages -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sheet_pages (exam_id, sheet_id, page) {
        exam_id -> Text,
        sheet_id -> Text,
        page -> Integer,
        original_key -> Text,
        turned -> Bool,
        needs_treatment -> Bool,
        extra_masks -> Text,
    }
}

diesel::table! {
    scripts (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        question_id -> Text,
        sheet_id -> Text,
        anonymous_code -> Text,
        school_code -> Text,
        state -> Text,
        page -> Integer,
        image_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    image_tokens (exam_id, token_hash) {
        exam_id -> Text,
        token_hash -> Text,
        script_id -> Nullable<Text>,
        image_key -> Text,
        holder -> Text,
        expires_at -> Timestamp,
        revoked -> Bool,
        prescored_id -> Nullable<Text>,
    }
}

diesel::table! {
    markers (id) {
        id -> Text,
        user_id -> Text,
        birth_date -> Date,
        school_code -> Text,
        subject -> Text,
        years_teaching -> Integer,
        recommended_by -> Nullable<Text>,
        recommending_school -> Nullable<Text>,
        recommended_on -> Nullable<Date>,
        health_attested -> Bool,
        conduct_attested -> Bool,
        created_at -> Timestamp,
        created_by -> Text,
    }
}

diesel::table! {
    relatives (exam_id, user_id, lookup) {
        exam_id -> Text,
        user_id -> Text,
        lookup -> Text,
        declared_at -> Timestamp,
    }
}

diesel::table! {
    marker_exams (exam_id, marker_id) {
        exam_id -> Text,
        marker_id -> Text,
        status -> Text,
        reasons -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    marker_status_history (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        marker_id -> Text,
        n -> Integer,
        from_status -> Nullable<Text>,
        to_status -> Text,
        changed_by -> Nullable<Text>,
        reason -> Text,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    marker_reviews (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        marker_id -> Text,
        kind -> Text,
        evidence -> Text,
        status -> Text,
        opened_at -> Timestamp,
        decision -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    trainings (exam_id, marker_id, question_id) {
        exam_id -> Text,
        marker_id -> Text,
        question_id -> Text,
        course -> Text,
        trained_on -> Date,
        trainer -> Text,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    marker_questions (exam_id, marker_id, question_id) {
        exam_id -> Text,
        marker_id -> Text,
        question_id -> Text,
    }
}

diesel::table! {
    certifications (id) {
        id -> Text,
        marker_id -> Text,
        subject -> Text,
        level -> Text,
        issued -> Date,
        expires -> Nullable<Date>,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    prescored_scripts (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        question_id -> Text,
        role -> Text,
        definitive -> BigInt,
        image_key -> Text,
        uploaded_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    qualification_attempts (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        marker_id -> Text,
        question_id -> Text,
        n -> Integer,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        passed -> Nullable<Bool>,
        within_count -> Nullable<Integer>,
        total -> Integer,
        max_deviation -> Nullable<BigInt>,
    }
}

diesel::table! {
    qualification_tasks (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        attempt_id -> Text,
        prescored_id -> Text,
        position -> Integer,
        score -> Nullable<BigInt>,
        deviation -> Nullable<BigInt>,
        scored_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    discipline_entries (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        marker_id -> Text,
        kind -> Text,
        reason -> Text,
        approval_id -> Text,
        requested_by -> Text,
        decided_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    tasks (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        script_id -> Text,
        question_id -> Text,
        state -> Text,
        shuffle -> BigInt,
        marker_id -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        done_at -> Nullable<Timestamp>,
        begun -> Bool,
    }
}

diesel::table! {
    serves (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        marker_id -> Text,
        kind -> Text,
        question_id -> Text,
        task_id -> Nullable<Text>,
        script_id -> Nullable<Text>,
        prescored_id -> Nullable<Text>,
        anonymous_code -> Text,
        workstation_id -> Nullable<Text>,
        state -> Text,
        day -> Date,
        leased_at -> Timestamp,
        lease_expires_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    script_holders (exam_id, script_id, marker_id) {
        exam_id -> Text,
        script_id -> Text,
        marker_id -> Text,
        serve_id -> Text,
    }
}

diesel::table! {
    marks (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        task_id -> Text,
        serve_id -> Text,
        script_id -> Text,
        question_id -> Text,
        marker_id -> Text,
        score -> BigInt,
        criteria -> Text,
        annotations -> Text,
        seconds_spent -> Nullable<Integer>,
        void -> Bool,
        void_reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    seed_marks (exam_id, serve_id) {
        exam_id -> Text,
        serve_id -> Text,
        marker_id -> Text,
        prescored_id -> Text,
        score -> BigInt,
        deviation -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    self_checks (exam_id, serve_id) {
        exam_id -> Text,
        serve_id -> Text,
        marker_id -> Text,
        script_id -> Text,
        score -> BigInt,
        earlier_score -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (exam_id, user_id, key) {
        exam_id -> Text,
        user_id -> Text,
        key -> Text,
        request_hash -> Text,
        status -> Integer,
        response -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    finals (exam_id, script_id) {
        exam_id -> Text,
        script_id -> Text,
        question_id -> Text,
        score -> BigInt,
        method -> Text,
        decided_by -> Nullable<Text>,
        reason -> Nullable<Text>,
        decided_at -> Timestamp,
    }
}

diesel::table! {
    disputes (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        script_id -> Text,
        question_id -> Text,
        cause -> Text,
        spread -> BigInt,
        status -> Text,
        opened_at -> Timestamp,
        resolved_by -> Nullable<Text>,
        score -> Nullable<BigInt>,
        reason -> Nullable<Text>,
        resolved_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    backreads (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        script_id -> Text,
        question_id -> Text,
        status -> Text,
        created_at -> Timestamp,
        leader_id -> Nullable<Text>,
        score -> Nullable<BigInt>,
        note -> Nullable<Text>,
        done_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    problems (exam_id, id) {
        exam_id -> Text,
        id -> Text,
        script_id -> Text,
        question_id -> Text,
        serve_id -> Text,
        kind -> Text,
        note -> Text,
        flagged_by -> Text,
        status -> Text,
        resolution -> Nullable<Text>,
        resolved_by -> Nullable<Text>,
        reason -> Nullable<Text>,
        created_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
    }
}
