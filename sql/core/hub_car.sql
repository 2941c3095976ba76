-- materialized: incremental
-- description: one row per car business key ever seen (cars, and cars referenced by subscriptions)
{{ hub(hash_key='hk_car', business_key='car_id', sources=['cars.id', 'subscriptions.car_id']) }}
