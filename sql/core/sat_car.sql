-- materialized: incremental
-- description: car descriptive history; a new row only when the hashdiff changes
-- tests: not_null(hk_car, load_date, hashdiff); unique(hk_car, load_date); relationships(hk_car, hub_car.hk_car)
{{ sat(hash_key='hk_car', entity='cars') }}
