-- Typed codes are looked up at the core when an officer types one (customs_gateway/core_lookup.py): the gateway
-- no longer keeps a copy of every declaration (docs/gateway-subscriptions.md).
DROP TABLE declarations_on_file;
DROP TABLE declaration_tokens;
