//! Diesel table definitions, shared by the SQLite and PostgreSQL backends.

diesel::table! {
    provinces (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        valid_from -> Nullable<Date>,
        valid_to -> Nullable<Date>,
    }
}

diesel::table! {
    agencies (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        level -> Text,
        province_id -> BigInt,
        parent_id -> Nullable<BigInt>,
        peer_group -> Nullable<Text>,
        valid_from -> Nullable<Date>,
        valid_to -> Nullable<Date>,
    }
}

diesel::table! {
    agency_successions (id) {
        id -> BigInt,
        old_agency_id -> BigInt,
        new_agency_id -> BigInt,
        effective_date -> Date,
        share -> Nullable<Double>,
    }
}

diesel::table! {
    province_successions (id) {
        id -> BigInt,
        old_province_id -> BigInt,
        new_province_id -> BigInt,
        effective_date -> Date,
        share -> Nullable<Double>,
    }
}

diesel::table! {
    procedures (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        field -> Text,
        level -> Text,
    }
}

diesel::table! {
    agency_procedures (agency_id, procedure_id) {
        agency_id -> BigInt,
        procedure_id -> BigInt,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        key_hash -> Text,
        prefix -> Text,
        agency_id -> Nullable<BigInt>,
        province_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    invitations (id) {
        id -> BigInt,
        token_hash -> Text,
        token_seed -> Text,
        agency_id -> BigInt,
        procedure_id -> BigInt,
        dossier_code -> Text,
        channel -> Text,
        received_at -> Timestamp,
        due_at -> Nullable<Timestamp>,
        returned_at -> Timestamp,
        late -> Nullable<Bool>,
        days_late -> Nullable<Integer>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used -> Bool,
    }
}

diesel::table! {
    responses (id) {
        id -> BigInt,
        agency_id -> BigInt,
        procedure_id -> Nullable<BigInt>,
        channel -> Text,
        questionnaire_id -> Text,
        questionnaire_version -> Integer,
        submitted_on -> Date,
        late -> Nullable<Bool>,
        days_late -> Nullable<Integer>,
        tc0 -> Nullable<Integer>,
        tt0 -> Nullable<Integer>,
        cc0 -> Nullable<Integer>,
        kq0 -> Nullable<Integer>,
        pa0 -> Nullable<Integer>,
        hl0 -> Nullable<Integer>,
        e1 -> Nullable<Integer>,
        e2 -> Nullable<Integer>,
        e3 -> Nullable<Integer>,
        e4 -> Nullable<Integer>,
        e5 -> Nullable<Integer>,
        e6 -> Nullable<Integer>,
        e7 -> Nullable<Integer>,
        comment -> Nullable<Text>,
        comment_flag -> Bool,
        import_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    imports (id) {
        id -> BigInt,
        started_at -> Timestamp,
        heartbeat_at -> Timestamp,
        status -> Text,
        rows -> BigInt,
    }
}

diesel::table! {
    import_chunks (import_id, chunk) {
        import_id -> BigInt,
        chunk -> BigInt,
    }
}

diesel::table! {
    response_answers (response_id, item) {
        response_id -> BigInt,
        item -> Text,
        value -> Integer,
    }
}

diesel::table! {
    contact_requests (id) {
        id -> BigInt,
        agency_id -> BigInt,
        created_on -> Date,
        contact -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        agency_id -> Nullable<BigInt>,
        lang -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        must_change_password -> Bool,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        user_id -> BigInt,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::table! {
    rate_counts (scope, key, window_start) {
        scope -> Text,
        key -> Text,
        window_start -> Timestamp,
        hits -> Integer,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        user_id -> Nullable<BigInt>,
        action -> Text,
        detail -> Text,
    }
}

diesel::table! {
    cases (id) {
        id -> BigInt,
        agency_id -> BigInt,
        problem -> Text,
        flag -> Text,
        reason -> Text,
        status -> Text,
        assignee_id -> Nullable<BigInt>,
        due_on -> Nullable<Date>,
        opened_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        unfounded_reason -> Nullable<Text>,
        false_probability -> Nullable<Double>,
    }
}

diesel::table! {
    locks (name) {
        name -> Text,
        taken_at -> Timestamp,
    }
}

diesel::table! {
    flag_history (id) {
        id -> BigInt,
        agency_id -> BigInt,
        problem -> Text,
        severity -> Text,
        problem_probability -> Nullable<Double>,
        observed_at -> Timestamp,
    }
}

diesel::table! {
    case_events (id) {
        id -> BigInt,
        case_id -> BigInt,
        at -> Timestamp,
        user_id -> Nullable<BigInt>,
        kind -> Text,
        detail -> Text,
    }
}

diesel::table! {
    questionnaires (id) {
        id -> BigInt,
        code -> Text,
        version -> Integer,
        body -> Text,
        published_at -> Timestamp,
        published_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        recipient -> Text,
        kind -> Text,
        period -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        message_id -> Text,
        channel -> Text,
        outreach_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    outreach (id) {
        id -> BigInt,
        invitation_id -> BigInt,
        agency_id -> BigInt,
        day -> Date,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        channel -> Nullable<Text>,
        remind_at -> Nullable<Timestamp>,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    contact_hashes (hash) {
        hash -> Text,
        invited_on -> Nullable<Date>,
        opted_out -> Bool,
    }
}

diesel::table! {
    mail_recipients (id) {
        id -> BigInt,
        email -> Text,
        agency_id -> Nullable<BigInt>,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::joinable!(agencies -> provinces (province_id));
diesel::joinable!(cases -> agencies (agency_id));
diesel::joinable!(case_events -> cases (case_id));
diesel::joinable!(flag_history -> agencies (agency_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(users -> agencies (agency_id));
diesel::joinable!(agency_procedures -> agencies (agency_id));
diesel::joinable!(agency_procedures -> procedures (procedure_id));
diesel::joinable!(invitations -> agencies (agency_id));
diesel::joinable!(invitations -> procedures (procedure_id));
diesel::joinable!(responses -> agencies (agency_id));
diesel::joinable!(response_answers -> responses (response_id));
diesel::joinable!(contact_requests -> agencies (agency_id));
diesel::joinable!(outreach -> invitations (invitation_id));

diesel::allow_tables_to_appear_in_same_query!(
    provinces,
    agencies,
    agency_successions,
    province_successions,
    procedures,
    agency_procedures,
    api_keys,
    invitations,
    responses,
    response_answers,
    contact_requests,
    imports,
    import_chunks,
    users,
    sessions,
    rate_counts,
    audit_log,
    cases,
    case_events,
    flag_history,
    locks,
    questionnaires,
    outbox,
    mail_recipients,
    outreach,
    contact_hashes,
);
