-- Trigger webhooks: a preset names the webhook whose deliveries run it (PresetCreated.webhook_id).
-- The webhooks themselves are folded on the command side (their streams in integrations_events).
ALTER TABLE rm_library_presets ADD COLUMN IF NOT EXISTS webhook_id uuid;
