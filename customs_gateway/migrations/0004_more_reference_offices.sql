-- More reference offices for the embedded stack: a transit country (DE) and a country that
-- forbids split shipments (MX, R14).
INSERT INTO offices (office_id, country, region, name, timezone) VALUES
    ('DE-FRA-CARGO', 'DE', 'DE-HE',  'Frankfurt Flughafen Cargo', 'Europe/Berlin'),
    ('MX-MEX-AICM',  'MX', 'MX-CMX', 'Aduana AICM Ciudad de México', 'America/Mexico_City')
ON CONFLICT DO NOTHING;
