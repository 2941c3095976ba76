/** The hand-made dataset of the warehouse tests: each row there for a case the contract names. */
import type { Row, Snapshot } from './fixtures.js';

const car = (id: string, brand: string, registration_date: string, deregistration_date: string | null): Row => ({
  id, vin: `VIN-${id}`, brand, model: 'M', engine_type: 'electric', license_plate: `P-${id}`, registration_date, deregistration_date,
});
const customer = (id: string, type: 'b2b' | 'b2c', address_city: string): Row => ({
  id, first_name: type === 'b2c' ? 'Ada' : null, second_name: type === 'b2c' ? 'L' : null, type,
  company_name: type === 'b2b' ? `Company ${id}` : null, address_city, address_zip: '10115', address_street: 'Street', address_street_house: '1',
});
const sub = (id: string, customer_id: string, car_id: string, start_date: string, term_month: 'six' | 'twelve'): Row => ({
  id, customer_id, car_id, created_at: '2023-01-01 00:00:00', start_date, term_month, monthly_rate: 499.5,
});

/** Snapshot A. */
export const SNAPSHOT_A: Snapshot = {
  cars: [
    car('c1', 'Tesla', '2023-01-31 23:59:59.999999', null), // last second of a month
    car('c2', 'BMW', '2023-02-01T00:00:01', '2024-06-30 10:00:00'), // 'T' separator; deregistered in the future
    car('c3', 'Tesla', '2023-02-01 08:00:00', '2023-03-15 00:00:00'),
    car('c4', 'Audi', '2023-03-31T23:30:00-02:00', null), // zone suffix: 2023-04-01 in UTC
  ],
  customers: [customer('u1', 'b2c', 'Berlin'), customer('u2', 'b2b', 'Munich'), customer('u3', 'b2c', 'Hamburg')],
  subscriptions: [
    sub('s1', 'u1', 'c1', '2023-08-31 09:00:00', 'six'), // Aug 31 + 6 months = Feb 29 2024 (leap year)
    sub('s2', 'u2', 'c2', '2023-12-20 00:00:00', 'twelve'), // twelve months across the year end
    sub('s3', 'u3', 'c3', '2023-12-01 10:00:00', 'six'), // ends Jun 1: not active in June
    sub('s4', 'u1', 'c2', '2024-01-31 12:00:00', 'six'), // Jan 31 + 6 = Jul 31
    sub('s5', 'u9', 'c1', '2023-12-20 00:00:00', 'twelve'), // unknown customer: in no mart
    sub('s6', 'u2', 'c9', '2023-12-01 00:00:00', 'six'), // unknown car: in no mart
    sub('s7', 'u3', 'c1', '2024-01-15 00:00:00', 'twelve'), // a future delivery for runs before Jan 15
    sub('s8', 'u2', 'c3', '2024-01-05 00:00:00', 'six'),
  ],
};

/** Snapshot B: u3 moved from Hamburg to Cologne; nothing else changed. */
export const SNAPSHOT_B: Snapshot = {
  ...SNAPSHOT_A,
  customers: SNAPSHOT_A.customers.map((c) => (c.id === 'u3' ? { ...c, address_city: 'Cologne', address_zip: '50667' } : c)),
};
