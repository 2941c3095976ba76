-- description: infleeted total over the days the run wrote = cars registered on those days, counted from the current satellite
SELECT m.n AS mart_total, s.n AS registered
FROM (SELECT coalesce(sum(cnt), 0) AS n FROM {{ ref('infleeted_cars_volumes') }} WHERE day >= :start_day) m,
     (SELECT count(*) AS n FROM {{ ref('sat_car_current') }} WHERE {{ day('registration_date') }} >= :start_day) s
WHERE m.n <> s.n
