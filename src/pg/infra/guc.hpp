// Every customer_profile.* setting, defined in one place (guc.cpp).
#pragma once

namespace customer_profile::pg {

// Inbox worker: events per batch (sighup) and the nap when the inbox was
// drained (sighup, ms); how often it runs retention_run() (sighup, s).
extern int guc_batch_size;
extern int guc_naptime_ms;
extern int guc_retention_interval_s;
extern int guc_feature_refresh_interval_s;
// Daily buckets and stored events cover this many days (suset).
extern int guc_behavior_horizon_days;
// Anonymous profiles idle this long are purged; 0 keeps them (suset).
extern int guc_anonymous_ttl_days;
// Read by the SQL of segment_create and friends (current_setting).
extern int guc_segment_build_inline_limit;
// Databases that get a worker at server start (postmaster; needs
// shared_preload_libraries).
extern char* guc_worker_databases;
// The role the workers run their transactions as (sighup).
extern char* guc_worker_role;

void define_settings();

}  // namespace customer_profile::pg
