-- portier:expand
-- The decision explorer's person and device filters through an index
-- (docs/performance.md, 10 million records): a person is found by email
-- or user id, so both have one; a device has its own.
CREATE INDEX portier_decisions_user_id ON portier_decisions (user_id, hour DESC, id DESC);
CREATE INDEX portier_decisions_device ON portier_decisions (device, hour DESC, id DESC);
