-- The two context rows the engine reads and writes under.

INSERT INTO entry_context (name, title, description, timestamp_created, timestamp_modified, data)
VALUES
    ('swf-alarms', 'swf-alarms', 'Alarm configurations, their events and the engine''s runs.',
     extract(epoch FROM now())::double precision, extract(epoch FROM now())::double precision, '{}'),
    ('teams', 'Teams', 'Mail groups: a row named @team lists its addresses in content.',
     extract(epoch FROM now())::double precision, extract(epoch FROM now())::double precision, '{}')
ON CONFLICT (name) DO NOTHING;
