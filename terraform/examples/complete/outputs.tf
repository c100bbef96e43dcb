output "token_url" {
  description = "URL of the token function (cloudfunctions.net; internal ingress in both modes)."
  value       = module.token_vendor.url
}

output "token_public_url" {
  description = "Public mode: https://token_domain, the URL callers outside Google Cloud use; null in internal mode."
  value       = module.token_vendor.public_url
}

output "token_load_balancer_ip" {
  description = "Public mode: the address token_domain's A record must point at; null in internal mode."
  value       = module.token_vendor.load_balancer_ip
}

output "token_audience" {
  description = "Audience callers request for their ID tokens."
  value       = module.token_vendor.audience
}

output "token_service_account_email" {
  description = "Runtime identity of the token function."
  value       = module.iam.token_service_account_email
}

output "rotator_service_account_email" {
  description = "Runtime identity of the rotation functions."
  value       = module.iam.rotator_service_account_email
}

output "policy_secret_id" {
  description = "Secret to add the policy to (gcloud secrets versions add ... --data-file=policy.json)."
  value       = module.secrets.policy_secret_id
}

output "managed_secret_ids" {
  description = "Managed secrets, by credential name."
  value       = module.secrets.managed_secret_ids
}

output "perimeter_enforced" {
  description = "False while the perimeter is in dry-run mode."
  value       = module.perimeter.enforced
}

output "user_consent" {
  description = "The user-consent broker's grants database, KMS key, OAuth client secret (add the secret as a version after registering the client), consent identity, and the consent pages' URL, redirect URI and load balancer address (point the domain's A record at it); null when user_consent is null."
  value = var.user_consent == null ? null : {
    database_name                 = module.user_consent[0].database_name
    crypto_key_id                 = module.user_consent[0].crypto_key_id
    client_secret_id              = module.user_consent[0].client_secret_id
    consent_service_account_email = module.user_consent[0].consent_service_account_email
    consent_url                   = module.consent_function[0].consent_url
    redirect_uri                  = module.consent_function[0].redirect_uri
    ip_address                    = module.consent_function[0].ip_address
  }
}
