-- materialized: incremental
-- description: car descriptive history; a new row only when the hashdiff changes
-- tests: accepted_values(engine_type, 'electric', 'hybrid', 'gasoline', 'diesel')
-- test_scope: load_date = :load_date
{{ sat(hash_key='hk_car', entity='cars') }}
