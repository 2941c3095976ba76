-- description: defleeted total over the days the run wrote = cars deregistered on those days, counted from the current satellite
SELECT m.n AS mart_total, s.n AS deregistered
FROM (SELECT coalesce(sum(cnt), 0) AS n FROM {{ ref('defleeted_cars_volumes') }} WHERE day >= :start_day) m,
     (SELECT count(*) AS n FROM {{ ref('sat_car_current') }} WHERE {{ day('deregistration_date') }} >= :start_day) s
WHERE m.n <> s.n
