CREATE TABLE login (id integer PRIMARY KEY, email text, username text, tenant integer,
    CONSTRAINT login_tenant_email_key UNIQUE (tenant, email));
ALTER TABLE login ADD CONSTRAINT login_username_key UNIQUE (username);
