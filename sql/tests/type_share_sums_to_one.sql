-- description: b2b_share + b2c_share = 1 on every row
SELECT month, brand, b2b_share, b2c_share FROM {{ ref('type_share') }}
WHERE abs(b2b_share + b2c_share - 1.0) > 1e-9
