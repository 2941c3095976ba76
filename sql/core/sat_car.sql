-- materialized: incremental
-- description: car descriptive history; a new row only when the hashdiff changes
-- tests: relationships(hk_car, hub_car.hk_car); accepted_values(engine_type, 'electric', 'hybrid', 'gasoline', 'diesel')
{{ sat(hash_key='hk_car', entity='cars') }}
