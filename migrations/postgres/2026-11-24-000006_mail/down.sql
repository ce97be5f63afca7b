DROP TABLE mail_recipients;
DROP TABLE outbox;
