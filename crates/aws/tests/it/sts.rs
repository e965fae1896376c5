//! The AWS STS provider of per-task credentials against a real moto server: a role made in
//! moto's IAM, sessions assumed and used, outages and what no output may show.

use crate::common::{Moto, closed_port, creds, moto_url, settings, unique};
use aws_sdk_sts::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sts::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sts::error::BoxError;
use secretstore_aws::{AwsSettings, Credentials, StsMinter};
use secretstore_core::generator::{
    AwsStsSpec, GeneratorKind, GeneratorSpec, LeaseId, MintRequest, Minted, Minter, PostgresSpec,
    RevokeRequest, STS_ENV, session_name,
};
use secretstore_core::timestamp::{self, OffsetDateTime};
use secretstore_core::{BackendError, BriefId, ScopePath, SecretName};
use secretstore_testkit::Frozen;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// moto's account.
const ACCOUNT: &str = "123456789012";

async fn minter_with(s: &AwsSettings, c: Credentials) -> StsMinter {
    let config = secretstore_aws::load_sdk_config(s, Some(c)).await.unwrap();
    StsMinter::from_sdk_config(&config, s).unwrap()
}

/// The minter on the shared moto server.
async fn minter() -> StsMinter {
    minter_with(&settings(&moto_url(), Duration::from_secs(10)), creds()).await
}

/// Percent-encodes `s` for a form body.
fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Decodes one form-encoded value.
fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            x => out.push(x),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// The value of `key` in a form-encoded body.
fn form_get(body: &str, key: &str) -> Option<String> {
    body.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (form_decode(k) == key).then(|| form_decode(v))
    })
}

/// Creates the IAM role `name` in moto (whose trust policy lets anyone assume it) and
/// returns its ARN. The IAM query API, posted by hand (no IAM SDK in the build): moto
/// tells the service of a request from the credential scope of its Authorization header,
/// and checks no signature unless it is told to, so the header only names `iam`.
fn create_role(moto: &str, name: &str) -> String {
    let addr = moto.strip_prefix("http://").unwrap();
    assert!(
        addr.starts_with("127.0.0.1:"),
        "only loopback is a target: {moto}"
    );
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;
    let body = format!(
        "Action=CreateRole&Version=2010-05-08&RoleName={}&AssumeRolePolicyDocument={}&MaxSessionDuration=43200",
        form_encode(name),
        form_encode(trust)
    );
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "CreateRole: {answer}");
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/{name}");
    assert!(answer.contains(&format!("<Arn>{arn}</Arn>")), "{answer}");
    arn
}

fn spec(role_arn: &str, session_policy: Option<&str>) -> GeneratorSpec {
    let spec = GeneratorSpec::AwsSts(AwsStsSpec {
        role_arn: role_arn.to_owned(),
        session_policy: session_policy.map(str::to_owned),
        ttl_secs: 900,
    });
    spec.check().unwrap();
    spec
}

/// What one mint needs, for a new brief of project `acme/t<unique>`.
struct Ask {
    lease: LeaseId,
    brief: BriefId,
    session: String,
    name: SecretName,
    project: ScopePath,
    spec: GeneratorSpec,
}

impl Ask {
    fn new(spec: GeneratorSpec) -> Ask {
        let brief = BriefId::generate();
        Ask {
            lease: LeaseId::generate(),
            session: session_name(&brief),
            brief,
            name: SecretName::parse("AWS").unwrap(),
            project: ScopePath::parse(&format!("acme/t{}", unique())).unwrap(),
            spec,
        }
    }

    fn request(&self, expires_at: OffsetDateTime) -> MintRequest<'_> {
        MintRequest {
            lease_id: &self.lease,
            principal: &self.session,
            name: &self.name,
            brief_id: &self.brief,
            project: &self.project,
            spec: &self.spec,
            admin: None,
            expires_at,
        }
    }
}

/// The variable `name` of a minted credential.
fn var<'a>(m: &'a Minted, name: &str) -> &'a str {
    m.env
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.expose_secret())
        .unwrap()
}

/// Seconds from `a` to `b`.
fn secs_between(a: OffsetDateTime, b: OffsetDateTime) -> i64 {
    (b - a).whole_seconds()
}

/// The form bodies of the requests a client sends (what reaches STS).
#[derive(Debug, Clone, Default)]
struct Bodies(Arc<Mutex<Vec<String>>>);

impl Intercept for Bodies {
    fn name(&self) -> &'static str {
        "RequestBodies"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = context.request().body().bytes().unwrap_or_default();
        self.0
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(body).into_owned());
        Ok(())
    }
}

#[tokio::test]
async fn a_minted_session_is_the_role_as_ss_brief_and_its_three_credentials_work() {
    let url = moto_url();
    let role = format!("ss-test-{}", unique());
    let arn = create_role(&url, &role);
    let minter = minter().await;
    assert_eq!(minter.kind(), GeneratorKind::AwsSts);
    let ask = Ask::new(spec(&arn, None));
    let before = timestamp::now();
    let minted = minter
        .mint(ask.request(timestamp::in_secs(1800)))
        .await
        .unwrap();

    // The three variables, in STS_ENV order, none empty.
    let names: Vec<&str> = minted.env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, STS_ENV);
    assert!(minted.env.iter().all(|(_, v)| !v.is_empty()));
    assert_eq!(ask.session, format!("ss-{}", ask.brief));
    let assumed = format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{}", ask.session);
    assert_eq!(minted.principal, assumed);
    // The session lasts as long as the lease (moto's Expiration is its now + duration).
    let lasts = secs_between(before, minted.expires_at);
    assert!((1795..=1805).contains(&lasts), "{lasts}");

    // The credentials, as a task would use them: STS says who they are.
    let as_task = Credentials::new(
        var(&minted, "AWS_ACCESS_KEY_ID"),
        var(&minted, "AWS_SECRET_ACCESS_KEY"),
        Some(var(&minted, "AWS_SESSION_TOKEN").to_owned()),
        None,
        "minted",
    );
    let config =
        secretstore_aws::load_sdk_config(&settings(&url, Duration::from_secs(10)), Some(as_task))
            .await
            .unwrap();
    let who = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(who.arn(), Some(assumed.as_str()));
    assert_eq!(who.account(), Some(ACCOUNT));
    assert!(who.arn().unwrap().ends_with(&format!("/ss-{}", ask.brief)));
}

#[tokio::test]
async fn the_request_names_the_session_tags_project_and_brief_and_rounds_the_duration_up() {
    let url = moto_url();
    let arn = create_role(&url, &format!("ss-test-{}", unique()));
    let bodies = Bodies::default();
    let minter = minter().await.with_interceptor(bodies.clone());
    let ask = Ask::new(spec(&arn, None));
    let minted = minter
        .mint(ask.request(timestamp::in_secs(3600)))
        .await
        .unwrap();
    let sent = bodies.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "one AssumeRole call: {sent:?}");
    let body = &sent[0];
    assert_eq!(form_get(body, "Action").as_deref(), Some("AssumeRole"));
    assert_eq!(form_get(body, "RoleArn").as_deref(), Some(arn.as_str()));
    assert_eq!(
        form_get(body, "RoleSessionName").as_deref(),
        Some(ask.session.as_str())
    );
    // The lease ends 3600 s from a moment just before the call: never less than that.
    let duration: i64 = form_get(body, "DurationSeconds").unwrap().parse().unwrap();
    assert!((3599..=3600).contains(&duration), "{duration}");
    let tags: Vec<(String, String)> = (1..=2)
        .map(|i| {
            (
                form_get(body, &format!("Tags.member.{i}.Key")).unwrap(),
                form_get(body, &format!("Tags.member.{i}.Value")).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tags,
        [
            (
                "secretstore:project".to_owned(),
                ask.project.as_str().to_owned()
            ),
            ("secretstore:brief".to_owned(), ask.brief.to_string()),
        ]
    );
    assert_eq!(form_get(body, "Tags.member.3.Key"), None);
    assert_eq!(form_get(body, "Policy"), None, "no policy in the spec");
    assert!(minted.principal.ends_with(&ask.session));
}

#[tokio::test]
async fn a_lease_shorter_than_fifteen_minutes_gets_fifteen_and_the_session_policy_is_passed() {
    let url = moto_url();
    let role = format!("ss-test-{}", unique());
    let arn = create_role(&url, &role);
    let bodies = Bodies::default();
    let minter = minter().await.with_interceptor(bodies.clone());
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::acme-artifacts/*"}]}"#;
    let ask = Ask::new(spec(&arn, Some(policy)));
    let before = timestamp::now();
    let minted = minter
        .mint(ask.request(timestamp::in_secs(60)))
        .await
        .unwrap();

    let sent = bodies.0.lock().unwrap().clone();
    assert_eq!(
        form_get(&sent[0], "DurationSeconds").as_deref(),
        Some("900")
    );
    assert_eq!(form_get(&sent[0], "Policy").as_deref(), Some(policy));
    // moto's Expiration echoes the duration: 15 minutes, not the lease's 60 s.
    let lasts = secs_between(before, minted.expires_at);
    assert!((895..=905).contains(&lasts), "{lasts}");
    assert_eq!(
        minted.principal,
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{}", ask.session)
    );

    // A lease past STS's 12 hours asks for 12 hours.
    let long = Ask::new(spec(&arn, None));
    minter
        .mint(long.request(timestamp::in_secs(2 * 86_400)))
        .await
        .unwrap();
    let sent = bodies.0.lock().unwrap().clone();
    assert_eq!(
        form_get(&sent[1], "DurationSeconds").as_deref(),
        Some("43200")
    );
}

#[tokio::test]
async fn revoke_asks_nothing_of_aws_and_succeeds() {
    let nowhere = format!("http://127.0.0.1:{}", closed_port());
    let bodies = Bodies::default();
    let minter = minter_with(&settings(&nowhere, Duration::from_secs(2)), creds())
        .await
        .with_interceptor(bodies.clone());
    let spec = spec(&format!("arn:aws:iam::{ACCOUNT}:role/gone"), None);
    let started = Instant::now();
    for _ in 0..2 {
        minter
            .revoke(RevokeRequest {
                principal: &format!("arn:aws:sts::{ACCOUNT}:assumed-role/gone/ss-x"),
                spec: &spec,
                admin: None,
            })
            .await
            .unwrap();
    }
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(bodies.0.lock().unwrap().is_empty(), "no call was made");
}

#[tokio::test]
async fn sts_unreachable_is_unavailable_within_the_bound() {
    let timeout = Duration::from_secs(2);
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/any");

    // Nothing listens.
    let nowhere = format!("http://127.0.0.1:{}", closed_port());
    let minter = minter_with(&settings(&nowhere, timeout), creds()).await;
    let ask = Ask::new(spec(&arn, None));
    let started = Instant::now();
    let err = minter
        .mint(ask.request(timestamp::in_secs(600)))
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("AWS STS AssumeRole"), "{err}");
    assert!(started.elapsed() < timeout + Duration::from_secs(2));

    // moto stopped after a first mint.
    let mut moto = Moto::start(&[]);
    let arn = create_role(&moto.url, "ss-outage");
    let minter = minter_with(&settings(&moto.url, timeout), creds()).await;
    minter
        .mint(ask.request(timestamp::in_secs(600)))
        .await
        .unwrap();
    moto.kill();
    let ask = Ask::new(spec(&arn, None));
    let started = Instant::now();
    let err = minter
        .mint(ask.request(timestamp::in_secs(600)))
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < timeout + Duration::from_secs(2));
}

#[tokio::test]
async fn a_frozen_sts_is_unavailable_within_the_bound() {
    let moto = Moto::start(&[]);
    let arn = create_role(&moto.url, "ss-frozen");
    let timeout = Duration::from_secs(2);
    let minter = minter_with(&settings(&moto.url, timeout), creds()).await;
    let ask = Ask::new(spec(&arn, None));
    let frozen = Frozen::freeze(moto.pid());
    let started = Instant::now();
    let err = minter
        .mint(ask.request(timestamp::in_secs(600)))
        .await
        .unwrap_err();
    let took = started.elapsed();
    frozen.thaw();
    assert!(matches!(err, BackendError::Unavailable(_)), "{err:?}");
    // The SDK's bound, retries included, plus the minter's second of grace.
    assert!(took < timeout + Duration::from_millis(1500), "{took:?}");
}

#[tokio::test]
async fn credentials_that_sts_does_not_know_are_refused() {
    // A moto that enforces IAM credentials (INITIAL_NO_AUTH_ACTION_COUNT=0).
    let strict = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let minter = minter_with(&settings(&strict.url, Duration::from_secs(10)), creds()).await;
    let ask = Ask::new(spec(&format!("arn:aws:iam::{ACCOUNT}:role/any"), None));
    let err = minter
        .mint(ask.request(timestamp::in_secs(600)))
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Refused(_)), "{err:?}");
    // moto answers a 403 whose body is not STS's error shape: refused by its status.
    assert!(err.to_string().contains("AWS STS AssumeRole"), "{err}");
}

#[tokio::test]
async fn a_spec_of_another_generator_is_refused_without_a_call() {
    let bodies = Bodies::default();
    let minter = minter().await.with_interceptor(bodies.clone());
    let ask = Ask::new(GeneratorSpec::Postgres(PostgresSpec {
        admin_ref: "PG_ADMIN_URL".into(),
        grants: vec![],
        creation: vec![],
        revocation: vec![],
        ttl_secs: 900,
    }));
    let err = minter
        .mint(ask.request(timestamp::in_secs(600)))
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Refused(_)), "{err:?}");
    assert!(bodies.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn no_credential_shows_in_the_debug_of_minted_of_the_minter_or_of_an_error() {
    let url = moto_url();
    let arn = create_role(&url, &format!("ss-test-{}", unique()));
    let minter = minter().await;
    let ask = Ask::new(spec(&arn, None));
    let minted = minter
        .mint(ask.request(timestamp::in_secs(600)))
        .await
        .unwrap();
    let secrets: Vec<String> = minted
        .env
        .iter()
        .map(|(_, v)| v.expose_secret().to_owned())
        .collect();
    assert!(secrets.iter().all(|s| s.len() >= 16), "real-looking values");

    // The minted credentials as a minter's own: against nothing, and against a moto that
    // does not know them.
    let as_own = || {
        Credentials::new(
            &secrets[0],
            &secrets[1],
            Some(secrets[2].clone()),
            None,
            "minted",
        )
    };
    let nowhere = format!("http://127.0.0.1:{}", closed_port());
    let unreachable = minter_with(&settings(&nowhere, Duration::from_secs(2)), as_own()).await;
    let strict = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let refused = minter_with(&settings(&strict.url, Duration::from_secs(10)), as_own()).await;
    let mut errors = Vec::new();
    for m in [&unreachable, &refused] {
        let again = Ask::new(spec(&arn, None));
        errors.push(
            m.mint(again.request(timestamp::in_secs(600)))
                .await
                .unwrap_err(),
        );
    }
    assert!(matches!(errors[0], BackendError::Unavailable(_)));
    assert!(matches!(errors[1], BackendError::Refused(_)), "{errors:?}");

    let mut shown = vec![
        format!("{minted:?}"),
        format!("{minter:?}"),
        format!("{unreachable:?}"),
        format!("{refused:?}"),
    ];
    for e in &errors {
        shown.push(format!("{e:?}"));
        shown.push(e.to_string());
    }
    for text in &shown {
        for (name, secret) in STS_ENV.iter().zip(&secrets) {
            // The access key id is no secret to AWS, but nothing here needs it either.
            assert!(!text.contains(secret.as_str()), "{name} in {text}");
        }
    }
    assert!(shown[0].contains(&minted.principal), "{}", shown[0]);
    assert!(shown[1].contains("us-east-1"), "{}", shown[1]);
}
