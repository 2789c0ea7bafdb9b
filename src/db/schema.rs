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
    approvals (id) {
        id -> Text,
        exam_id -> Nullable<Text>,
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
    audit_log (id) {
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

diesel::joinable!(questions -> exams (exam_id));
diesel::joinable!(service_client_exams -> exams (exam_id));
diesel::joinable!(service_client_exams -> service_clients (client_id));

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
    audit_log,
    audit_head,
);
