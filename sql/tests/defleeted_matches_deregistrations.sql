-- description: defleeted total over the days the run wrote = cars deregistered on those days
SELECT m.n AS mart_total, s.n AS deregistered
FROM (SELECT coalesce(sum(cnt), 0) AS n FROM {{ ref('defleeted_cars_volumes') }} WHERE day >= :start_day) m,
     (SELECT count(*) AS n FROM {{ ref('car_timeline') }} WHERE deregistration_day >= :start_day) s
WHERE m.n <> s.n
