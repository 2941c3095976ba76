-- materialized: view
-- description: the latest version of every car, with the source's field names
{{ sat_current(sat='sat_car', hub='hub_car', hash_key='hk_car', business_key='car_id', entity='cars') }}
