/** Word lists for the generator: German cities with zip ranges and plate codes, names, streets, cars. */

/** A city, the first two digits of its zips (one range per city, close enough), its plate code and weight. */
export interface City {
  readonly name: string;
  readonly zipFrom: number;
  readonly zipTo: number;
  readonly plate: string;
  readonly weight: number;
}

export const CITIES: readonly City[] = [
  { name: 'Berlin', zipFrom: 10115, zipTo: 14199, plate: 'B', weight: 36 },
  { name: 'Hamburg', zipFrom: 20095, zipTo: 22769, plate: 'HH', weight: 18 },
  { name: 'München', zipFrom: 80331, zipTo: 81929, plate: 'M', weight: 15 },
  { name: 'Köln', zipFrom: 50667, zipTo: 51149, plate: 'K', weight: 11 },
  { name: 'Frankfurt am Main', zipFrom: 60306, zipTo: 65936, plate: 'F', weight: 8 },
  { name: 'Stuttgart', zipFrom: 70173, zipTo: 70629, plate: 'S', weight: 6 },
  { name: 'Düsseldorf', zipFrom: 40210, zipTo: 40629, plate: 'D', weight: 6 },
  { name: 'Leipzig', zipFrom: 4103, zipTo: 4357, plate: 'L', weight: 6 },
  { name: 'Dortmund', zipFrom: 44135, zipTo: 44388, plate: 'DO', weight: 6 },
  { name: 'Essen', zipFrom: 45127, zipTo: 45359, plate: 'E', weight: 6 },
  { name: 'Bremen', zipFrom: 28195, zipTo: 28779, plate: 'HB', weight: 6 },
  { name: 'Dresden', zipFrom: 1067, zipTo: 1328, plate: 'DD', weight: 5 },
  { name: 'Hannover', zipFrom: 30159, zipTo: 30669, plate: 'H', weight: 5 },
  { name: 'Nürnberg', zipFrom: 90402, zipTo: 90491, plate: 'N', weight: 5 },
  { name: 'Duisburg', zipFrom: 47051, zipTo: 47279, plate: 'DU', weight: 5 },
  { name: 'Bochum', zipFrom: 44787, zipTo: 44894, plate: 'BO', weight: 4 },
  { name: 'Wuppertal', zipFrom: 42103, zipTo: 42399, plate: 'W', weight: 4 },
  { name: 'Bielefeld', zipFrom: 33602, zipTo: 33739, plate: 'BI', weight: 3 },
  { name: 'Bonn', zipFrom: 53111, zipTo: 53229, plate: 'BN', weight: 3 },
  { name: 'Münster', zipFrom: 48143, zipTo: 48167, plate: 'MS', weight: 3 },
  { name: 'Mannheim', zipFrom: 68159, zipTo: 68309, plate: 'MA', weight: 3 },
  { name: 'Karlsruhe', zipFrom: 76131, zipTo: 76229, plate: 'KA', weight: 3 },
  { name: 'Augsburg', zipFrom: 86150, zipTo: 86199, plate: 'A', weight: 3 },
  { name: 'Wiesbaden', zipFrom: 65183, zipTo: 65207, plate: 'WI', weight: 3 },
  { name: 'Freiburg im Breisgau', zipFrom: 79098, zipTo: 79117, plate: 'FR', weight: 2 },
  { name: 'Kiel', zipFrom: 24103, zipTo: 24159, plate: 'KI', weight: 2 },
  { name: 'Rostock', zipFrom: 18055, zipTo: 18147, plate: 'HRO', weight: 2 },
  { name: 'Potsdam', zipFrom: 14467, zipTo: 14482, plate: 'P', weight: 2 },
  { name: 'Erfurt', zipFrom: 99084, zipTo: 99099, plate: 'EF', weight: 2 },
  { name: 'Heidelberg', zipFrom: 69115, zipTo: 69126, plate: 'HD', weight: 2 },
  { name: 'Regensburg', zipFrom: 93047, zipTo: 93059, plate: 'R', weight: 2 },
  { name: 'Böblingen', zipFrom: 71032, zipTo: 71034, plate: 'BB', weight: 1 },
  { name: 'Lüdenscheid', zipFrom: 58507, zipTo: 58515, plate: 'MK', weight: 1 },
  { name: 'Plauen', zipFrom: 8523, zipTo: 8529, plate: 'V', weight: 1 },
];

export const STREET_STEMS: readonly string[] = [
  'Haupt', 'Bahnhof', 'Schiller', 'Goethe', 'Garten', 'Kirch', 'Linden', 'Berg', 'Wald', 'Schul', 'Ring',
  'Mühlen', 'Rosen', 'Birken', 'Eichen', 'Friedrich', 'Wilhelm', 'Beethoven', 'Mozart', 'Kant', 'Heine',
  'Marien', 'Park', 'Feld', 'Wiesen', 'Sonnen', 'Bismarck', 'Luisen', 'Schmidt', 'Köhler', 'Beckmann',
];
export const STREET_SUFFIXES: readonly string[] = ['straße', 'str.', 'weg', 'allee', 'platz', 'ring', 'gasse', 'damm'];

export const FIRST_NAMES: readonly string[] = [
  'Anna', 'Lena', 'Lea', 'Hannah', 'Emma', 'Mia', 'Sophie', 'Marie', 'Laura', 'Julia', 'Katharina', 'Melissa',
  'Sabine', 'Petra', 'Ursula', 'Monika', 'Kathi', 'Lukas', 'Leon', 'Jonas', 'Felix', 'Paul', 'Maximilian', 'Ben',
  'Finn', 'Elias', 'Noah', 'Thomas', 'Michael', 'Andreas', 'Stefan', 'Klaus', 'Jürgen', 'Roland', 'Wolfgang', 'Uwe',
];
export const LAST_NAMES: readonly string[] = [
  'Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Schulz', 'Hoffmann',
  'Schäfer', 'Koch', 'Bauer', 'Richter', 'Klein', 'Wolf', 'Schröder', 'Neumann', 'Schwarz', 'Zimmermann',
  'Braun', 'Krüger', 'Hofmann', 'Hartmann', 'Lange', 'Werner', 'Krause', 'Lehmann', 'Köhler', 'Pergande', 'Thanel',
];
export const COMPANY_FORMS: readonly string[] = ['GmbH', 'AG', 'KG', 'GmbH & Co. KG', 'OHG', 'SE', 'e.V.', 'GmbH & Co. KGaA', 'UG'];
export const COMPANY_WORDS: readonly string[] = [
  'Logistik', 'Bau', 'Consulting', 'Software', 'Pflegedienst', 'Elektro', 'Handel', 'Immobilien', 'Medien', 'Transport',
];

/** A model: its brand, engine type, and the tier of its monthly rates. */
export interface CarModel {
  readonly brand: string;
  readonly model: string;
  readonly engine: 'electric' | 'hybrid' | 'gasoline' | 'diesel';
  readonly rates: readonly number[];
  readonly weight: number;
}

const LOW = [310, 350, 400];
const MID = [400, 450, 550];
const HIGH = [650, 700, 800, 900];
export const CAR_MODELS: readonly CarModel[] = [
  { brand: 'Tesla', model: 'Model 3', engine: 'electric', rates: MID, weight: 8 },
  { brand: 'Tesla', model: 'Model Y', engine: 'electric', rates: MID, weight: 8 },
  { brand: 'Tesla', model: 'Model S', engine: 'electric', rates: HIGH, weight: 2 },
  { brand: 'BMW', model: 'i3', engine: 'electric', rates: MID, weight: 3 },
  { brand: 'BMW', model: 'iX3', engine: 'electric', rates: HIGH, weight: 3 },
  { brand: 'BMW', model: '320d', engine: 'diesel', rates: MID, weight: 4 },
  { brand: 'BMW', model: '330e', engine: 'hybrid', rates: HIGH, weight: 3 },
  { brand: 'Volkswagen', model: 'ID.3', engine: 'electric', rates: LOW, weight: 6 },
  { brand: 'Volkswagen', model: 'ID.4', engine: 'electric', rates: MID, weight: 6 },
  { brand: 'Volkswagen', model: 'Golf', engine: 'gasoline', rates: LOW, weight: 6 },
  { brand: 'Volkswagen', model: 'Passat', engine: 'diesel', rates: MID, weight: 4 },
  { brand: 'Mercedes-Benz', model: 'EQA', engine: 'electric', rates: HIGH, weight: 3 },
  { brand: 'Mercedes-Benz', model: 'C 300 e', engine: 'hybrid', rates: HIGH, weight: 3 },
  { brand: 'Mercedes-Benz', model: 'C 220 d', engine: 'diesel', rates: HIGH, weight: 3 },
  { brand: 'Audi', model: 'Q4 e-tron', engine: 'electric', rates: HIGH, weight: 3 },
  { brand: 'Audi', model: 'A4', engine: 'diesel', rates: MID, weight: 3 },
  { brand: 'Audi', model: 'A3 TFSI e', engine: 'hybrid', rates: MID, weight: 2 },
  { brand: 'Hyundai', model: 'Ioniq 5', engine: 'electric', rates: MID, weight: 4 },
  { brand: 'Hyundai', model: 'Tucson', engine: 'hybrid', rates: LOW, weight: 3 },
  { brand: 'Kia', model: 'EV6', engine: 'electric', rates: MID, weight: 3 },
  { brand: 'Kia', model: 'Niro', engine: 'hybrid', rates: LOW, weight: 3 },
  { brand: 'Fiat', model: '500e', engine: 'electric', rates: LOW, weight: 3 },
  { brand: 'Fiat', model: 'Panda', engine: 'gasoline', rates: LOW, weight: 3 },
  { brand: 'Cupra', model: 'Born', engine: 'electric', rates: MID, weight: 2 },
  { brand: 'Cupra', model: 'Formentor', engine: 'gasoline', rates: MID, weight: 2 },
  { brand: 'Peugeot', model: 'e-208', engine: 'electric', rates: LOW, weight: 3 },
  { brand: 'Peugeot', model: '308', engine: 'gasoline', rates: LOW, weight: 3 },
];
