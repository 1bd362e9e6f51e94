-- Reference offices for the embedded stack and tests; real administrations import theirs (R18).
INSERT INTO offices (office_id, country, region, name, timezone) VALUES
    ('FR-CDG-FRET', 'FR', 'FR-IDF', 'Roissy-Charles-de-Gaulle Fret', 'Europe/Paris'),
    ('CH-GVA-AIR',  'CH', 'CH-GE',  'Genève Aéroport',              'Europe/Zurich'),
    ('GB-LHR-CARGO','GB', 'GB-LDN', 'Heathrow Cargo',               'Europe/London'),
    ('US-JFK-CBP',  'US', 'US-NY',  'JFK Airport',                  'America/New_York'),
    ('NZ-AKL-AIR',  'NZ', 'NZ-AKL', 'Auckland Airport',             'Pacific/Auckland')
ON CONFLICT DO NOTHING;
