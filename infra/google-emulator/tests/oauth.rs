//! OAuth2 with domain-wide delegation: the token endpoint's checks and errors, and access tokens on API
//! calls (missing, unknown, expired, lacking a scope, non-admin Directory callers).

mod common;

use common::*;
use google_emulator::ConfigUpdate;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

fn assert_oauth_error(status: u16, body: &Value, want_status: u16, error: &str, description: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_description"], description, "{body}");
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(2),
        "only error and description: {body}"
    );
}

#[tokio::test]
async fn the_served_key_is_a_service_account_key_file() {
    let env = Env::demo().await;
    let key = &env.key;
    assert_eq!(key["type"], "service_account");
    assert_eq!(
        key["client_email"],
        "contact-sync@emulator-project.iam.gserviceaccount.com"
    );
    assert_eq!(key["project_id"], "emulator-project");
    assert_eq!(key["token_uri"], env.url("/token"));
    let client_id = key["client_id"].as_str().expect("client_id");
    assert!(client_id.len() >= 20 && client_id.chars().all(|c| c.is_ascii_digit()));
    assert!(
        key["private_key"]
            .as_str()
            .expect("pem")
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    let (status, body) = env
        .control(reqwest::Method::GET, "/emulator/service-account-key", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(&body, key);
}

#[tokio::test]
async fn a_signed_assertion_gets_a_bearer_token() {
    let env = Env::demo().await;
    let (status, body) = env.assertion_request(&env.claims(SAM, &[CONTACTS])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() > 20));
    // An alias impersonates the same user.
    env.token("ana.alvarez@example.com", &[CONTACTS]).await;
    assert_eq!(env.emu.stats().tokens_issued, 2);
}

#[tokio::test]
async fn bad_assertions_get_googles_oauth_errors() {
    let env = Env::demo().await;

    // Signed with another key (another emulator's), claiming this key's id.
    let other_emulator = Env::demo().await;
    let other = other_emulator.key["private_key"]
        .as_str()
        .expect("pem")
        .to_string();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = env.key["private_key_id"].as_str().map(str::to_string);
    let forged = jsonwebtoken::encode(
        &header,
        &env.claims(SAM, &[CONTACTS]),
        &EncodingKey::from_rsa_pem(other.as_bytes()).expect("key"),
    )
    .expect("signs");
    let (s, b) = env
        .token_request(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &forged),
        ])
        .await;
    assert_oauth_error(s, &b, 400, "invalid_grant", "Invalid JWT Signature.");

    // Wrong audience.
    let mut claims = env.claims(SAM, &[CONTACTS]);
    claims["aud"] = json!("https://oauth2.googleapis.com/token");
    let (s, b) = env.assertion_request(&claims).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_grant")),
        "{b}"
    );
    assert!(
        b["error_description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Invalid JWT: Failed audience check")),
        "{b}"
    );

    // Unknown subject.
    let (s, b) = env
        .assertion_request(&env.claims("nobody@example.com", &[CONTACTS]))
        .await;
    assert_oauth_error(s, &b, 400, "invalid_grant", "Invalid email or User ID");

    // Suspended subject.
    let (s, b) = env
        .assertion_request(&env.claims("frank@example.com", &[CONTACTS]))
        .await;
    assert_oauth_error(s, &b, 400, "invalid_grant", "Invalid email or User ID");

    // A scope the admin never authorised for the client id (any one refuses the whole request).
    let (s, b) = env
        .assertion_request(&env.claims(SAM, &[CONTACTS, "https://mail.google.com/"]))
        .await;
    assert_oauth_error(
        s,
        &b,
        401,
        "unauthorized_client",
        "Client is unauthorized to retrieve access tokens using this method, or client not \
         authorized for any of the scopes requested.",
    );

    // Unknown issuer, unknown key id.
    let mut claims = env.claims(SAM, &[CONTACTS]);
    claims["iss"] = json!("someone-else@other.iam.gserviceaccount.com");
    let (s, b) = env.assertion_request(&claims).await;
    assert_oauth_error(
        s,
        &b,
        400,
        "invalid_grant",
        "Invalid JWT: No valid verifier found for issuer.",
    );

    // Longer than an hour, or long expired.
    let timeframe = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a \
                     reasonable timeframe. Check your iat and exp values in the JWT claim.";
    let mut claims = env.claims(SAM, &[CONTACTS]);
    claims["exp"] = json!(now() + 7200);
    let (s, b) = env.assertion_request(&claims).await;
    assert_oauth_error(s, &b, 400, "invalid_grant", timeframe);
    let mut claims = env.claims(SAM, &[CONTACTS]);
    claims["iat"] = json!(now() - 7200);
    claims["exp"] = json!(now() - 3600);
    let (s, b) = env.assertion_request(&claims).await;
    assert_oauth_error(s, &b, 400, "invalid_grant", timeframe);

    // Wrong grant type, no assertion.
    let (s, b) = env
        .token_request(&[("grant_type", "client_credentials")])
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (s, b) = env
        .token_request(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")])
        .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_request")));
    assert_eq!(env.emu.stats().tokens_issued, 0);
}

#[tokio::test]
async fn api_calls_need_a_valid_unexpired_token() {
    let env = Env::demo().await;
    let r = env
        .get("", "/v1/people/me/connections?personFields=names")
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(r.reason(), Some("CREDENTIALS_MISSING"));

    let r = env
        .get(
            "ya29.made-up",
            "/v1/people/me/connections?personFields=names",
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(r.body["error"]["errors"][0]["reason"], "authError");

    env.emu.configure(ConfigUpdate {
        token_lifetime_secs: Some(0),
        ..Default::default()
    });
    let (status, body) = env.assertion_request(&env.claims(SAM, &[CONTACTS])).await;
    assert_eq!((status, body["expires_in"].as_u64()), (200, Some(0)));
    let expired = body["access_token"].as_str().expect("token");
    let r = env
        .get(expired, "/v1/people/me/connections?personFields=names")
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.reason(), Some("ACCESS_TOKEN_EXPIRED"));
    assert_eq!(
        r.message(),
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login \
         cookie or other valid authentication credential. See \
         https://developers.google.com/identity/sign-in/web/devconsole-project."
    );
    // Refused calls without a valid token are not counted.
    assert!(env.emu.stats().by_method.is_empty());
}

#[tokio::test]
async fn a_token_lacking_the_methods_scope_is_refused() {
    let env = Env::demo().await;
    let read_only_directory = env.token(SAM, &[USER_RO]).await;
    let r = env
        .get(
            &read_only_directory,
            "/v1/people/me/connections?personFields=names",
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"]["status"], "PERMISSION_DENIED");
    assert_eq!(
        r.message(),
        "Request had insufficient authentication scopes."
    );
    assert_eq!(r.reason(), Some("ACCESS_TOKEN_SCOPE_INSUFFICIENT"));
    assert_eq!(
        r.body["error"]["errors"][0]["reason"],
        "insufficientPermissions"
    );

    // groups.list needs group(.readonly); member.readonly alone does not cover it.
    let members_only = env.token(ADMIN, &[MEMBER_RO]).await;
    let r = env
        .get(
            &members_only,
            "/admin/directory/v1/groups?customer=my_customer",
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.reason(), Some("ACCESS_TOKEN_SCOPE_INSUFFICIENT"));
    env.get(
        &members_only,
        "/admin/directory/v1/groups/accounting@example.com/members",
    )
    .await
    .ok();
}

#[tokio::test]
async fn directory_calls_need_an_administrator() {
    let env = Env::demo().await;
    let not_admin = env.token(SAM, DIRECTORY_RO).await;
    let r = env
        .get(&not_admin, "/admin/directory/v1/users?customer=my_customer")
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.message(), "Not Authorized to access this resource/api");
    assert_eq!(r.body["error"]["errors"][0]["reason"], "forbidden");
    // The domain-public view is open to every user, with public fields only.
    let public = env
        .get(
            &not_admin,
            "/admin/directory/v1/users?domain=example.com&viewType=domain_public&maxResults=1",
        )
        .await
        .ok();
    assert!(public["users"][0]["orgUnitPath"].is_null());
    assert!(public["users"][0]["primaryEmail"].is_string());
}
