-- materialized: incremental
-- description: customers' personal data (names, street address, zip), apart from sat_customer so that no mart can read it and erasure touches one table; a new row only when the personal hashdiff changes
-- test_scope: load_date = :load_date
-- No model but the data tests reads this table: the marts need a customer's type and city only (sat_customer).
{{ sat(hash_key='hk_customer', entity='customers', part='personal') }}
