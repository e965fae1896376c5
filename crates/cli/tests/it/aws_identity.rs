//! AWS as deployed on Kubernetes and EC2, through the real binary against moto: web
//! identity (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`, as EKS sets them) and
//! assume-role profiles supply the credentials for Secrets Manager and S3, their STS calls
//! go to the endpoint override (moto), `doctor` names the link of the chain and the
//! identity, and a broken link fails closed. No static key is in the environment of these
//! runs; the token never appears in an output, a log or a stored file.

use crate::common::server::Server;
use crate::common::*;
use std::process::Command;

const PROJECT: &str = "acme/platform/dev/agent-x";

/// Every setting of the SDK's credential chain that the test runner's own environment
/// might hold: removed from each run unless the test sets it.
const CHAIN_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_ENDPOINT_URL_STS",
];

fn set(e: &mut Env, k: &str, v: &str) {
    e.vars.retain(|(key, _)| key != k);
    e.vars.push((k.into(), v.into()));
}

/// The folder's settings for moto with no credentials at all: the region, the endpoint,
/// a prefix of the test's own, no instance metadata, no `~/.aws`.
fn moto_without_keys(e: &mut Env, moto: &str) {
    let tag = &e.dir.path().file_name().unwrap().to_string_lossy()[4..].to_string();
    set(e, "AWS_ENDPOINT_URL", moto);
    set(e, "AWS_REGION", "us-east-1");
    set(e, "AWS_SM_PREFIX", &format!("id{tag}/"));
    set(e, "AWS_EC2_METADATA_DISABLED", "true");
    let home = e.path("home");
    std::fs::create_dir_all(&home).unwrap();
    set(e, "HOME", &home.to_string_lossy());
}

/// A command of the folder with only the chain settings the test gave.
fn command(e: &Env, args: &[&str]) -> Command {
    let mut c = e.command(args);
    for k in CHAIN_VARS {
        if !e.vars.iter().any(|(key, _)| key == k) {
            c.env_remove(k);
        }
    }
    c
}

fn run(e: &Env, args: &[&str]) -> Run {
    run_with(&mut command(e, args), b"")
}

/// `secret set` with `SECRET_BACKEND=aws_sm`, the value on stdin.
fn set_aws(e: &Env, name: &str, scope: &str, value: &str) -> Run {
    let mut c = command(
        e,
        &[
            "secret",
            "set",
            name,
            "--scope",
            scope,
            "--category",
            "infrastructure",
        ],
    );
    c.env("SECRET_BACKEND", "aws_sm");
    run_with(&mut c, value.as_bytes())
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|err| panic!("not JSON ({err}): {s}"))
}

/// Runs boto3 (from the test venv) against moto with test keys; `code` sees `moto` (the
/// endpoint) and `args` (the rest of `argv`); its stdout, trimmed.
fn boto3(code: &str, args: &[&str]) -> String {
    let moto = need("SECRETSTORE_TEST_MOTO_URL");
    let script = format!(
        "import boto3, json, sys\n\
         moto = sys.argv[1]\n\
         args = sys.argv[2:]\n\
         def client(name):\n    return boto3.client(name, endpoint_url=moto, region_name='us-east-1', \
         aws_access_key_id='test', aws_secret_access_key='test')\n{code}"
    );
    let out = Command::new(need("SECRETSTORE_TEST_PYTHON"))
        .arg("-c")
        .arg(script)
        .arg(&moto)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "boto3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Creates a role in moto's IAM that web identities and the test account may assume; its
/// ARN.
fn create_role(name: &str) -> String {
    boto3(
        "trust = json.dumps({'Version': '2012-10-17', 'Statement': [\
         {'Effect': 'Allow', 'Principal': {'Federated': 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.example'}, 'Action': 'sts:AssumeRoleWithWebIdentity'},\
         {'Effect': 'Allow', 'Principal': {'AWS': 'arn:aws:iam::123456789012:root'}, 'Action': 'sts:AssumeRole'}]})\n\
         print(client('iam').create_role(RoleName=args[0], AssumeRolePolicyDocument=trust)['Role']['Arn'])",
        &[name],
    )
}

/// The secret's value in moto, asked of Secrets Manager itself.
fn moto_value(name: &str) -> String {
    boto3(
        "print(client('secretsmanager').get_secret_value(SecretId=args[0])['SecretString'])",
        &[name],
    )
}

/// The keys of the objects in `bucket`.
fn moto_objects(bucket: &str) -> String {
    boto3(
        "print(' '.join(o['Key'] for o in client('s3').list_objects_v2(Bucket=args[0]).get('Contents', [])))",
        &[bucket],
    )
}

fn create_bucket(bucket: &str) {
    boto3("client('s3').create_bucket(Bucket=args[0])", &[bucket]);
}

/// A unique lowercase tag of the folder (role, bucket and session names).
fn tag(e: &Env) -> String {
    e.dir.path().file_name().unwrap().to_string_lossy()[4..]
        .to_lowercase()
        .replace(|c: char| !c.is_ascii_alphanumeric(), "")
}

/// A JWT-shaped service-account token (moto does not check it), in a folder outside the
/// secretstore folder, so that a leak check of that folder means something. Its signature
/// part is the canary.
fn token_file(tag: &str) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = secretstore_testkit::scratch();
    let canary = format!("c2lnbmF0dXJlLWNhbmFyeS{tag}Q");
    let token = format!(
        "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJpc3MiOiJodHRwczovL29pZGMuZWtzLmV4YW1wbGUiLCJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDphZ2VudCJ9.{canary}"
    );
    let path = dir.path().join("token");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    (dir, path, canary)
}

fn assert_no_canary(e: &Env, runs: &[&Run], canary: &str) {
    for r in runs {
        assert!(
            !r.stdout.contains(canary) && !r.stderr.contains(canary),
            "the token in an output:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
    for (path, bytes) in e.all_bytes() {
        assert!(
            !contains(&bytes, canary.as_bytes()),
            "the token in {}",
            path.display()
        );
    }
}

#[test]
fn web_identity_through_the_endpoint_override_supplies_secrets_manager_and_s3_and_doctor_names_it()
{
    let mut e = Env::new().with_tree();
    let moto = need("SECRETSTORE_TEST_MOTO_URL");
    moto_without_keys(&mut e, &moto);
    let tag = tag(&e);
    let role = create_role(&format!("agent-{tag}"));
    let (_tokens, token, canary) = token_file(&tag);
    set(&mut e, "AWS_ROLE_ARN", &role);
    set(
        &mut e,
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        &token.to_string_lossy(),
    );
    set(&mut e, "AWS_ROLE_SESSION_NAME", &format!("ss-{tag}"));
    let bucket = format!("wi-{tag}");
    create_bucket(&bucket);
    set(&mut e, "BRIEF_STORE_URL", &format!("s3://{bucket}/briefs"));

    let written = set_aws(&e, "DB_URL", "acme/platform", "wi-value-canary-1");
    written.ok();
    let prefix = format!(
        "id{}/",
        &e.dir.path().file_name().unwrap().to_string_lossy()[4..]
    );
    assert_eq!(
        moto_value(&format!("{prefix}acme/platform/DB_URL")),
        "wi-value-canary-1",
        "the secret is in moto's Secrets Manager"
    );
    let task = run(
        &e,
        &["task", "create", "--project", PROJECT, "--ref", "DB_URL"],
    );
    let task_id = task.ok().trim().to_string();
    let dispatched = run(&e, &["dispatch", &task_id, "--json"]);
    let d = json(dispatched.ok());
    assert_eq!(d["env"]["DB_URL"], "wi-value-canary-1");
    let brief_id = d["brief_id"].as_str().unwrap();
    assert_eq!(
        moto_objects(&bucket),
        format!("briefs/{brief_id}.json"),
        "the brief is in moto's S3"
    );

    let doctor = run(&e, &["doctor"]);
    let out = doctor.ok();
    assert!(
        out.contains(&format!(
            "credentials from web identity (AWS_ROLE_ARN {role}, token file {}",
            token.display()
        )),
        "{out}"
    );
    // moto answers GetCallerIdentity with the session it issued the keys for: the
    // credentials came from moto's STS, through the endpoint override.
    assert!(
        out.contains(&format!(
            "identity arn:aws:sts::123456789012:assumed-role/agent-{tag}/ss-{tag}"
        )),
        "{out}"
    );
    assert!(out.contains(" expire "), "{out}");

    // The endpoint in .env only, not in the process environment: the web-identity call
    // still goes to moto (the SDK's own provider would call sts.us-east-1.amazonaws.com).
    let mut dotenv = std::fs::read_to_string(e.path(".env")).unwrap();
    dotenv.push_str(&format!("AWS_ENDPOINT_URL={moto}\n"));
    std::fs::write(e.path(".env"), dotenv).unwrap();
    e.vars.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    let mut c = command(&e, &["doctor"]);
    c.env_remove("AWS_ENDPOINT_URL");
    let doctor_dotenv = run_with(&mut c, b"");
    assert!(
        doctor_dotenv.ok().contains(&format!(
            "identity arn:aws:sts::123456789012:assumed-role/agent-{tag}/ss-{tag}"
        )),
        "{}",
        doctor_dotenv.stdout
    );

    assert_no_canary(
        &e,
        &[&written, &task, &dispatched, &doctor, &doctor_dotenv],
        &canary,
    );
}

#[test]
fn an_assume_role_profile_supplies_secrets_manager_and_s3_and_doctor_names_the_profile() {
    let mut e = Env::new().with_tree();
    let moto = need("SECRETSTORE_TEST_MOTO_URL");
    moto_without_keys(&mut e, &moto);
    let tag = tag(&e);
    let role = create_role(&format!("deploy-{tag}"));
    let config = e.path("home/aws-config");
    std::fs::write(
        &config,
        format!(
            "[profile deploy]\nrole_arn = {role}\nsource_profile = base\nrole_session_name = prof-{tag}\n\n[profile base]\nregion = us-east-1\n"
        ),
    )
    .unwrap();
    let credentials = e.path("home/aws-credentials");
    std::fs::write(
        &credentials,
        "[base]\naws_access_key_id = test\naws_secret_access_key = test\n",
    )
    .unwrap();
    set(&mut e, "AWS_CONFIG_FILE", &config.to_string_lossy());
    set(
        &mut e,
        "AWS_SHARED_CREDENTIALS_FILE",
        &credentials.to_string_lossy(),
    );
    set(&mut e, "AWS_PROFILE", "deploy");
    let bucket = format!("pr-{tag}");
    create_bucket(&bucket);
    set(&mut e, "BRIEF_STORE_URL", &format!("s3://{bucket}/briefs"));

    set_aws(&e, "API_KEY", "acme/platform", "profile-value-canary-2").ok();
    let task = run(
        &e,
        &["task", "create", "--project", PROJECT, "--ref", "API_KEY"],
    )
    .ok()
    .trim()
    .to_string();
    let d = json(run(&e, &["dispatch", &task, "--json"]).ok());
    assert_eq!(d["env"]["API_KEY"], "profile-value-canary-2");
    let brief_id = d["brief_id"].as_str().unwrap();
    assert_eq!(moto_objects(&bucket), format!("briefs/{brief_id}.json"));

    let doctor = run(&e, &["doctor"]);
    let out = doctor.ok();
    assert!(
        out.contains(&format!(
            "credentials from profile deploy (assume role {role} from source profile base)"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "identity arn:aws:sts::123456789012:assumed-role/deploy-{tag}/prof-{tag}"
        )),
        "{out}"
    );
    assert!(!out.contains("aws_secret_access_key") && !out.contains("= test"));
}

#[test]
fn a_missing_web_identity_token_file_fails_closed_naming_the_file_and_never_serves_another_value() {
    let mut e = Env::new().with_tree();
    let moto = need("SECRETSTORE_TEST_MOTO_URL");
    moto_without_keys(&mut e, &moto);
    let tag = tag(&e);
    let role = create_role(&format!("gone-{tag}"));
    let (tokens, token, _canary) = token_file(&tag);
    set(&mut e, "AWS_ROLE_ARN", &role);
    set(
        &mut e,
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        &token.to_string_lossy(),
    );
    // The same name at a broader scope, in the local backend: what a fall-through would
    // serve.
    e.set("DB_URL", "acme", "infrastructure", "broader-local-value")
        .ok();
    set_aws(&e, "DB_URL", "acme/platform", "aws-value-3").ok();
    let task = run(
        &e,
        &["task", "create", "--project", PROJECT, "--ref", "DB_URL"],
    )
    .ok()
    .trim()
    .to_string();
    drop(tokens);
    assert!(!token.exists());

    // The command line: a clear error that names the link and the file.
    let cli = run(&e, &["dispatch", &task]);
    assert_ne!(cli.code, 0, "{}", cli.stdout);
    assert!(
        cli.stderr.contains("DB_URL")
            && cli.stderr.contains("web identity")
            && cli.stderr.contains(&token.display().to_string()),
        "{}",
        cli.stderr
    );
    assert!(
        !cli.stdout.contains("broader-local-value"),
        "{}",
        cli.stdout
    );
    let doctor = run(&e, &["doctor"]);
    assert_eq!(doctor.code, 1, "{}", doctor.stdout);
    assert!(
        doctor
            .stdout
            .contains("cannot read the web identity token file"),
        "{}",
        doctor.stdout
    );

    // The server: 502 backend_unavailable naming the ref, no value of another scope.
    let server = Server::start(&e, &[]);
    let root = server.root_token();
    let (code, body, text) = server.call(
        "POST",
        &format!("/api/v1/tasks/{task}/dispatch"),
        Some(&root),
        None,
    );
    assert_eq!(code, 502, "{text}");
    assert_eq!(body["error"]["code"], "backend_unavailable", "{text}");
    assert!(text.contains("DB_URL"), "{text}");
    assert!(!text.contains("broader-local-value"), "{text}");
    assert!(body.get("env").is_none(), "{text}");
    let (code, _) = server.terminate();
    assert_eq!(code, 0);
}
