-- R15: every version of the country policy document the core has applied, from the shipped file
-- (core/policies/country_policy.json) or from the operator's topic (ata.admin.country-policy.v1).
-- A version names exactly one document; the most recently applied row is the policy in force.
CREATE TABLE country_policies (
    version       text PRIMARY KEY,
    document      jsonb       NOT NULL,
    source        text        NOT NULL CHECK (source IN ('file', 'topic')),
    published_by  text,
    applied_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX country_policies_applied_at ON country_policies (applied_at DESC);
