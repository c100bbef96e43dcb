output "token_service_account_email" {
  description = "Runtime identity of the token function."
  value       = google_service_account.token.email
}

output "rotator_service_account_email" {
  description = "Runtime identity of the rotation functions."
  value       = google_service_account.rotator.email
}

output "policy_notifier_service_account_email" {
  description = "Identity of the Pub/Sub push of policy change notices to the token function (TVS_POLICY_NOTIFIER)."
  value       = google_service_account.policy_notifier.email
}

output "rotation_invoker_service_account_email" {
  description = "Identity Cloud Scheduler and the Pub/Sub trigger use to invoke the rotation functions."
  value       = google_service_account.rotation_invoker.email
}

output "build_service_account_email" {
  description = "Identity Cloud Build uses to build the functions."
  value       = google_service_account.build.email
}

output "build_service_account_id" {
  description = "Full resource name of the build service account (projects/P/serviceAccounts/E), as build_config.service_account wants it."
  value       = google_service_account.build.id
}

output "custom_role_ids" {
  description = "Custom roles this module defines, by purpose."
  value = merge(
    {
      token_secret_accessor  = google_project_iam_custom_role.token_secret_accessor.name
      token_keyless_minter   = google_project_iam_custom_role.token_keyless_minter.name
      rotator_secret_lister  = google_project_iam_custom_role.rotator_secret_lister.name
      rotator_secret_rotator = google_project_iam_custom_role.rotator_secret_rotator.name
      rotator_sa_key_rotator = google_project_iam_custom_role.rotator_sa_key_rotator.name
    },
    var.enable_api_key_rotation ? { rotator_api_key_rotator = google_project_iam_custom_role.rotator_api_key_rotator[0].name } : {},
    var.enable_shared_cache ? { token_cache_key_user = google_project_iam_custom_role.token_cache_key_user[0].name } : {},
    var.enable_user_consent ? {
      token_grant_key_decrypter = google_project_iam_custom_role.token_grant_key_decrypter[0].name
      token_grant_reader        = google_project_iam_custom_role.token_grant_reader[0].name
    } : {},
  )
}
