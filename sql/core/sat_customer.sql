-- materialized: incremental
-- description: customer descriptive history, type and city (customers move); a new row only when the hashdiff changes. Their personal fields live in sat_customer_pii
-- tests: accepted_values(type, 'b2b', 'b2c')
-- test_scope: load_date = :load_date
{{ sat(hash_key='hk_customer', entity='customers') }}
