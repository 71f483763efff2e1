create schema schema1;

create table schema1.t(id uuid, value text);

create schema schema2;

create table schema2.t(id uuid, value text);

create table schema2.z(id uuid, value text);
