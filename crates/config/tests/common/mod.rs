//! Example bodies shared by the integration tests.

use hotline_config::{
    Agent, BusinessHours, EntryFlow, IvrMenu, PhoneNumber, Prompt, Queue, TenantSettings, Webhook,
};
use serde_json::{Value, json};

/// A valid example body of every resource kind.
pub fn examples() -> Vec<(&'static str, Value)> {
    vec![
        (
            TenantSettings::KIND,
            json!({"name": "Acme", "time_zone": "Europe/Moscow", "locale": "ru"}),
        ),
        (
            PhoneNumber::KIND,
            json!({"number": "8-800-555-35-35", "name": "Hotline", "entry_flow": "main"}),
        ),
        (
            EntryFlow::KIND,
            json!({"name": "Main line", "greeting": "welcome", "business_hours": "office",
                   "start": {"type": "ivr-menu", "id": "main"},
                   "after_hours": {"type": "voicemail", "email": "support@acme.example", "max_seconds": 120}}),
        ),
        (
            BusinessHours::KIND,
            json!({"name": "Office", "time_zone": "Europe/Moscow",
                   "schedule": {"monday": [{"start": "09:00", "end": "13:00"}, {"start": "14:00", "end": "18:00"}],
                                "saturday": [{"start": "10:00", "end": "24:00"}]},
                   "exceptions": {"2026-01-01": {"name": "New Year"},
                                  "2026-12-31": {"open": [{"start": "09:00", "end": "15:00"}]}}}),
        ),
        (
            IvrMenu::KIND,
            json!({"name": "Main", "prompt": "main-menu", "timeout_seconds": 5,
                   "inter_digit_timeout_seconds": 3, "max_invalid": 3, "invalid_prompt": "try-again",
                   "choices": [{"digit": "1", "action": {"type": "queue", "id": "sales"}},
                               {"digit": "2", "action": {"type": "submenu", "id": "support"}},
                               {"digit": "3", "action": {"type": "voicemail", "email": "a@acme.ru"}},
                               {"digit": "4", "action": {"type": "callback", "queue": "sales"}},
                               {"digit": "5", "action": {"type": "transfer", "number": "+74951234567"}},
                               {"digit": "0", "action": {"type": "operator"}},
                               {"digit": "*", "action": {"type": "repeat"}},
                               {"digit": "#", "action": {"type": "hangup"}}],
                   "fallback": {"type": "queue", "id": "sales"}}),
        ),
        (
            Prompt::KIND,
            json!({"name": "Welcome", "language": "ru",
                   "audio": {"object_key": "prompts/welcome.wav", "duration_ms": 4200, "sample_rate": 8000}}),
        ),
        (
            Queue::KIND,
            json!({"name": "Support", "strategy": "ring-progressively", "ring_timeout_seconds": 20,
                   "wrap_up_seconds": 10, "max_wait_seconds": 300, "max_length": 50,
                   "join_when_empty": ["paused", "logged-out"], "leave_when_empty": ["no-skill-match"],
                   "overflow": {"type": "queue", "id": "night"},
                   "priority": 5, "weight": 2, "service_level_seconds": 30,
                   "announcements": {"position_every_seconds": 60, "expected_wait": true, "music_on_hold": "moh"},
                   "recording": {"mode": "always", "notice_prompt": "notice"},
                   "required_skills": {"english": 50},
                   "penalty_widening": [{"after_seconds": 30, "max_penalty": 5}, {"after_seconds": 90, "max_penalty": 10}],
                   "ring_progressively_interval_seconds": 5}),
        ),
        (
            Agent::KIND,
            json!({"name": "Anna Petrova", "extension": "101", "sip_username": "anna",
                   "sip_password": "s3cret-Passw0rd", "external_number": "+79161234567",
                   "skills": {"english": 80, "billing": 40},
                   "queues": [{"queue": "support", "penalty": 0}, {"queue": "sales", "penalty": 2}],
                   "schedule": {"monday": [{"start": "09:00", "end": "18:00", "lunch": {"start": "13:00", "end": "14:00"}}]},
                   "quota_calls_per_day": 80}),
        ),
        (
            Webhook::KIND,
            json!({"name": "CRM sync", "url": "https://crm.acme.example/hotline",
                   "secret": "0123456789abcdef", "events": ["CallOffered", "CallEnded"], "active": true}),
        ),
    ]
}
