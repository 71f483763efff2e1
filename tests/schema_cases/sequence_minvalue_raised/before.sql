CREATE SEQUENCE order_number_seq;
SELECT setval('order_number_seq', 5);
