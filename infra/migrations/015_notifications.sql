-- Notifications: what GET /api/notifications lists (rebuilt from the notifications log).

CREATE TABLE IF NOT EXISTS rm_notifications (
    notification_id  uuid PRIMARY KEY,
    user_id          text NOT NULL,
    type             text NOT NULL,
    data             jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL,
    read_at          timestamptz,
    email_status     text NOT NULL DEFAULT 'pending',
    email_attempts   int NOT NULL DEFAULT 0,
    email_detail     text
);
CREATE INDEX IF NOT EXISTS rm_notifications_user ON rm_notifications (user_id, created_at DESC, notification_id);
CREATE INDEX IF NOT EXISTS rm_notifications_unread ON rm_notifications (user_id, created_at DESC)
    WHERE read_at IS NULL;
