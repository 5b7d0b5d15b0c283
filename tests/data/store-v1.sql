-- A store as schema version 1 (ehr2fa 0.1 before SMS) wrote it: the migration test opens it.
CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;
CREATE TABLE users(  id INTEGER PRIMARY KEY,  login TEXT NOT NULL UNIQUE,  name TEXT NOT NULL DEFAULT '',  email TEXT NOT NULL DEFAULT '',  phone TEXT NOT NULL DEFAULT '',  role TEXT NOT NULL CHECK (role IN ('provider', 'staff')),  created INTEGER NOT NULL);
CREATE TABLE totp(  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,  sealed BLOB NOT NULL,  algorithm TEXT NOT NULL,  digits INTEGER NOT NULL,  period INTEGER NOT NULL,  last_step INTEGER,  enrolled INTEGER NOT NULL);
CREATE TABLE recovery_codes(  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,  hash BLOB NOT NULL,  used INTEGER,  PRIMARY KEY (user_id, hash)) WITHOUT ROWID;
CREATE TABLE failures(  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,  count INTEGER NOT NULL,  first INTEGER NOT NULL,  last INTEGER NOT NULL,  consecutive INTEGER NOT NULL,  locked_until INTEGER NOT NULL);
CREATE TABLE audit(  seq INTEGER PRIMARY KEY,  time INTEGER NOT NULL,  user TEXT NOT NULL,  actor TEXT NOT NULL,  type TEXT NOT NULL,  action TEXT NOT NULL,  details TEXT NOT NULL,  source TEXT NOT NULL,  mac BLOB NOT NULL);
CREATE INDEX audit_time ON audit(time);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only');
 END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only');
 END;

INSERT INTO users(login, name, email, phone, role, created) VALUES ('old', 'Old Timer', 'old@example.org', '+15550001111', 'provider', 1000);
PRAGMA user_version = 1;
