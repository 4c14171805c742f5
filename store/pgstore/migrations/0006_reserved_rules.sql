-- Placeholder, only on the decisions branch: 0006 belongs to the work that
-- moves routes and policies into the store. Migrations must be numbered
-- without gaps, so this empty one stands in for it until the branches are
-- merged; the merge replaces this file with the real 0006.
SELECT 1;
