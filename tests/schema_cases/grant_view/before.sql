-- roles: sc_reader sc_writer
CREATE TABLE salary (
    employee text PRIMARY KEY,
    amount numeric NOT NULL
);
CREATE VIEW salary_band AS
    SELECT employee, CASE WHEN amount > 50000 THEN 'high' ELSE 'low' END AS band
    FROM salary;
