-- Sample alarms for the quickstart: static_list detectors, so no upstream
-- is needed. Written the way the dashboard writes alarm rows.

INSERT INTO entry (id, title, content, kind, context_id, name, data, priority, status, archived,
                   parent_id, timestamp_created, timestamp_modified, deleted_at)
VALUES
  ('9b0f7c3e-0000-4000-8000-000000000001', 'Demo: failing tasks',
   'Tasks of the demo campaign whose failure rate is above 3 %.',
   'alarm', 'swf-alarms', 'alarm_demo_tasks',
   '{"entry_id": "alarm_demo_tasks", "detector": "static_list", "enabled": true,
     "severity": "warning", "recipients": "@demo-team, oncall@example.org",
     "renotification_window_hours": 24,
     "params": {"detections": [
       {"dedupe_key": "task:35981", "subject": "Task 35981 failing at 12.5% (running)",
        "body": "owner: alice\nsite: BNL\nfailed 5 of 40 terminal jobs", "extra": {"rate": 0.125}},
       {"dedupe_key": "task:35990", "subject": "Task 35990 failing at 4.0% (running)",
        "body": "owner: bob\nsite: CERN\nfailed 2 of 50 terminal jobs", "extra": {"rate": 0.04}},
       {"dedupe_key": "task:36002", "subject": "Task 36002 failing at 9.1% (failed)",
        "body": "owner: carol\nsite: BNL\nfailed 10 of 110 terminal jobs", "extra": {"rate": 0.091}}
     ]}}',
   NULL, 'active', false, NULL, extract(epoch FROM now()), extract(epoch FROM now()), NULL),
  ('9b0f7c3e-0000-4000-8000-000000000002', 'Demo: a muted alarm',
   'Runs and keeps events, but emails nobody while disabled.',
   'alarm', 'swf-alarms', 'alarm_demo_muted',
   '{"entry_id": "alarm_demo_muted", "detector": "static_list", "enabled": false,
     "recipients": ["oncall@example.org"],
     "params": {"detections": [{"dedupe_key": "disk:/data", "subject": "/data is 91% full"}]}}',
   NULL, 'active', false, NULL, extract(epoch FROM now()), extract(epoch FROM now()), NULL),
  ('9b0f7c3e-0000-4000-8000-000000000003', 'Demo: upstream down',
   'Its upstream is unreachable: this alarm fails, clears nothing, and the others are unaffected.',
   'alarm', 'swf-alarms', 'alarm_demo_upstream_down',
   '{"entry_id": "alarm_demo_upstream_down", "detector": "static_list",
     "recipients": ["oncall@example.org"], "params": {"fail": true}}',
   NULL, 'active', false, NULL, extract(epoch FROM now()), extract(epoch FROM now()), NULL);

INSERT INTO entry (id, title, content, kind, context_id, name, data, archived,
                   timestamp_created, timestamp_modified)
VALUES ('9b0f7c3e-0000-4000-8000-0000000000aa', 'Demo team', 'alice@example.org bob@example.org',
        'team', 'teams', '@demo-team', '{}', false,
        extract(epoch FROM now()), extract(epoch FROM now()));
