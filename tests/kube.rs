//! `kube generate`, `kube play`, `kube down`, as root and rootless: every
//! generated file passes Kubernetes' schemas (`kubernetes-validate
//! --strict`, installed by tests/run.sh), names are made valid labels,
//! a Deployment plays as its replicas with a ConfigMap's values in the
//! environment and as files, a generated pod plays back to the same
//! running pod, and a bad file is one `Error:` line naming file and line
//! with nothing created.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The schema validator tests/run.sh installs.
fn validator() -> PathBuf {
    PathBuf::from(
        std::env::var("CORACLE_KUBE_VALIDATE")
            .unwrap_or_else(|_| "/opt/coracle-venv/bin/kubernetes-validate".into()),
    )
}

/// A container command that sleeps and ends at once on SIGTERM: PID 1
/// ignores the signals it has no handler for, so a bare `sleep` would
/// wait out every stop's timeout (10 seconds) before SIGKILL.
const SLEEP: &str = "trap 'exit 0' TERM; sleep 1000 & wait";

/// [`SLEEP`] as a YAML container's `command`.
const SLEEP_YAML: &str = "[sh, -c, \"trap 'exit 0' TERM; sleep 1000 & wait\"]";

/// busybox httpd serving /www on port 80, ending at once on SIGTERM.
const HTTPD_TERM: &[&str] = &[
    "sh",
    "-c",
    "trap 'exit 0' TERM; busybox httpd -f -p 80 -h /www & wait",
];

/// Run the validator on `paths` (one Python start for them all): (exit
/// code, output).
fn validate_out(paths: &[&Path]) -> (i32, String) {
    let out = Command::new(validator())
        .args(["--strict", "--no-warn"])
        .args(paths)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}: tests/run.sh installs kubernetes-validate",
                validator().display()
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Every file passes Kubernetes' schemas (checked together: the
/// validator's start is most of its time).
fn assert_valid(mode: Mode, paths: &[&Path]) {
    let (code, text) = validate_out(paths);
    if code != 0 {
        let yaml: Vec<String> = paths
            .iter()
            .map(|p| {
                format!(
                    "--- {}\n{}",
                    p.display(),
                    std::fs::read_to_string(p).unwrap()
                )
            })
            .collect();
        panic!(
            "[{mode:?}] not valid Kubernetes:\n{text}\n{}",
            yaml.join("\n")
        );
    }
}

/// `kube generate ARGS -f DIR/NAME`: the file's path and text (the
/// caller checks it against the schemas with its other files).
fn generate(env: &TestEnv, name: &str, args: &[&str]) -> (PathBuf, String) {
    let dir = env.user_dir("yaml");
    let path = dir.join(name);
    let p = path.display().to_string();
    let mut all = vec!["kube", "generate", "-f", &p];
    all.extend_from_slice(args);
    env.ok(&all);
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

/// Write `text` where the command's user can read it.
fn write_yaml(env: &TestEnv, name: &str, text: &str) -> String {
    let path = env.user_dir("yaml").join(name);
    env.write_user_file(&path, text.as_bytes());
    path.display().to_string()
}

fn names(env: &TestEnv) -> Vec<String> {
    let mut v: Vec<String> = env
        .ok(&["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

both_modes!(generate_from_containers_makes_valid_names);
/// Container names Kubernetes refuses (capitals, '_', '.', over 63
/// characters) become valid labels; the single-container form is a Pod
/// named after the first with "-pod"; the validator itself rejects a
/// broken object (so these checks can fail).
fn generate_from_containers_makes_valid_names(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    let long = format!("Long_{}", "x".repeat(70));
    env.run_detached(
        "My_Web.App",
        &["-e", "GREETING=hi"],
        &img,
        &["sh", "-c", SLEEP],
    );
    env.run_detached(&long, &["-w", "/tmp"], &img, &["sh", "-c", SLEEP]);
    let (path, text) = generate(&env, "ctr.yaml", &["My_Web.App", &long]);
    assert!(text.contains("kind: Pod"), "[{mode:?}] {text}");
    assert!(
        text.contains("  name: my-web-app-pod\n"),
        "[{mode:?}] {text}"
    );
    assert!(text.contains("  name: my-web-app\n"), "[{mode:?}] {text}");
    let cut = format!("  name: long-{}\n", "x".repeat(58));
    assert!(text.contains(&cut), "[{mode:?}] {text}");
    assert!(
        text.contains("GREETING") && text.contains("value: hi"),
        "[{mode:?}] {text}"
    );
    assert!(text.contains("workingDir: /tmp"), "[{mode:?}] {text}");
    // the image's own variable is not repeated
    assert!(!text.contains("FROM_IMAGE"), "[{mode:?}] {text}");
    // stdout without -f is the same YAML
    let out = env.ok(&["generate", "kube", "My_Web.App"]);
    assert!(out.contains("name: my-web-app-pod"), "[{mode:?}] {out}");
    // the validator catches a broken object
    let broken = path.with_file_name("broken.yaml");
    std::fs::write(&broken, text.replace("workingDir:", "workDir:")).unwrap();
    assert_valid(mode, &[&path]);
    let (code, _) = validate_out(&[&broken]);
    assert_ne!(
        code, 0,
        "[{mode:?}] the validator accepted an unknown field"
    );
    // -f refuses to replace a file; --replicas needs a Deployment
    let p = path.display().to_string();
    assert_refused(
        &env,
        &["kube", "generate", "-f", &p, "My_Web.App"],
        "exists",
    );
    assert_refused(
        &env,
        &["kube", "generate", "--replicas", "2", "My_Web.App"],
        "--type=deployment",
    );
    assert_refused(&env, &["kube", "generate", "nothing-here"], "nothing-here");
    // the running containers' monitors must not outlive the test
    env.ok(&["rm", "-f", "-t", "0", "My_Web.App", &long]);
}

both_modes!(generate_pod_with_service_and_claim);
/// A pod with a published port and a named volume: the port on its first
/// container, a NodePort Service for it, the volume as a
/// PersistentVolumeClaim and its claim; a bind mount as a hostPath.
fn generate_pod_with_service_and_claim(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    let port = free_port().to_string();
    let publish = format!("{port}:80");
    env.ok(&["pod", "create", "--name", "Shop_Front", "-p", &publish]);
    let www = www_dir(&env, "x\n");
    env.run_detached(
        "web",
        &["--pod", "Shop_Front", "-v", "shop_data:/data", "-v", &www],
        &img,
        HTTPD_TERM,
    );
    let (with_service, text) = generate(&env, "pod.yaml", &["--service", "Shop_Front"]);
    for want in [
        "kind: PersistentVolumeClaim",
        "  name: shop-data\n",
        "claimName: shop-data",
        "name: shop-data-pvc",
        "kind: Pod",
        "  name: shop-front\n",
        "containerPort: 80",
        "kind: Service",
        "type: NodePort",
        "targetPort: 80",
        "hostPath:",
        "type: Directory",
    ] {
        assert!(text.contains(want), "[{mode:?}] no {want:?} in\n{text}");
    }
    // with a Service the pod's port is the Service's target, not a host port
    assert!(!text.contains("hostPort"), "[{mode:?}] {text}");
    let (with_ports, text) = generate(&env, "pod-ports.yaml", &["Shop_Front"]);
    assert!(
        text.contains(&format!("hostPort: {port}")),
        "[{mode:?}] {text}"
    );
    assert_valid(mode, &[&with_service, &with_ports]);
    // the running member's monitor must not outlive the test
    env.ok(&["pod", "rm", "-f", "-t", "0", "Shop_Front"]);
}

both_modes!(generate_deployment_and_job);
/// `--type deployment --replicas 3` and `--type job`, both valid.
fn generate_deployment_and_job(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    env.run_detached("worker", &[], &img, &["sh", "-c", SLEEP]);
    let (deployment, text) = generate(
        &env,
        "dep.yaml",
        &["--type", "deployment", "--replicas", "3", "worker"],
    );
    assert!(text.contains("kind: Deployment"), "[{mode:?}] {text}");
    assert!(text.contains("replicas: 3"), "[{mode:?}] {text}");
    assert!(
        text.contains("name: worker-pod-deployment"),
        "[{mode:?}] {text}"
    );
    assert!(text.contains("matchLabels:"), "[{mode:?}] {text}");
    let (job, text) = generate(&env, "job.yaml", &["--type", "job", "worker"]);
    assert!(text.contains("kind: Job"), "[{mode:?}] {text}");
    assert!(text.contains("restartPolicy: Never"), "[{mode:?}] {text}");
    assert_valid(mode, &[&deployment, &job]);
    assert_refused(
        &env,
        &["kube", "generate", "--type", "cronjob", "worker"],
        "cronjob",
    );
    env.ok(&["rm", "-f", "-t", "0", "worker"]);
}

/// A ConfigMap, and a Deployment of `replicas` whose container reads it
/// as variables and as files, with a claim.
fn deployment_yaml(env: &TestEnv, img: &str, replicas: u32) -> String {
    format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  GREETING: hello from a configmap
  motd: file content
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
data:
  password: c2VjcmV0
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: appdata
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: {img}
        command: {sleep}
        env:
        - name: {mark_name}
          value: "{mark_value}"
        - name: ONE_KEY
          valueFrom:
            configMapKeyRef:
              name: settings
              key: motd
        - name: PASSWORD
          valueFrom:
            secretKeyRef:
              name: creds
              key: password
        envFrom:
        - configMapRef:
            name: settings
        volumeMounts:
        - name: conf
          mountPath: /etc/conf
        - name: creds
          mountPath: /etc/creds
        - name: data
          mountPath: /data
      volumes:
      - name: conf
        configMap:
          name: settings
      - name: creds
        secret:
          secretName: creds
      - name: data
        persistentVolumeClaim:
          claimName: appdata
"#,
        mark_name = MARK_VAR,
        mark_value = env.dir.display(),
        sleep = SLEEP_YAML,
    )
}

both_modes!(play_deployment_with_configmap);
/// Two replicas, two pods, each container sees the ConfigMap's values and
/// files and the Secret's value; `kube down` removes the pods and keeps
/// the volume, `play --down --force` removes the volume too.
fn play_deployment_with_configmap(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    let file = write_yaml(&env, "web.yaml", &deployment_yaml(&env, &img, 2));
    let out = env.ok(&["kube", "play", &file]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0..2], ["Volumes:", "appdata"], "[{mode:?}] {out}");
    assert_eq!(
        lines.iter().filter(|l| **l == "Pod:").count(),
        2,
        "[{mode:?}] {out}"
    );
    assert_eq!(
        lines.iter().filter(|l| **l == "Container:").count(),
        2,
        "[{mode:?}] {out}"
    );
    assert_eq!(
        word_set(&env.ok(&["pod", "ps", "--format", "{{.Name}}"])),
        word_set("web-pod-0 web-pod-1"),
        "[{mode:?}]"
    );
    for ctr in ["web-pod-0-app", "web-pod-1-app"] {
        let seen = env.ok(&[
            "exec",
            ctr,
            "sh",
            "-c",
            "echo $GREETING; echo $ONE_KEY; echo $PASSWORD; cat /etc/conf/motd; echo; ls /etc/conf; cat /etc/creds/password",
        ]);
        assert_eq!(
            seen,
            "hello from a configmap\nfile content\nsecret\nfile content\nGREETING\nmotd\nsecret",
            "[{mode:?}] {ctr}"
        );
        let state = env.ok(&["inspect", "--format", "{{.State.Status}}", ctr]);
        assert_eq!(state.trim(), "running", "[{mode:?}] {ctr}");
    }
    // playing again without --replace is refused, nothing changes
    assert_refused(&env, &["kube", "play", &file], "already exists");
    let replaced = env.ok(&["kube", "play", "--replace", &file]);
    assert!(replaced.contains("Pod:"), "[{mode:?}] {replaced}");

    let down = env.ok(&["kube", "down", &file]);
    assert!(down.starts_with("Pods stopped:\n"), "[{mode:?}] {down}");
    assert!(down.contains("Pods removed:\n"), "[{mode:?}] {down}");
    assert_eq!(env.ok(&["pod", "ps", "-q"]).trim(), "", "[{mode:?}]");
    assert!(names(&env).is_empty(), "[{mode:?}] {:?}", names(&env));
    assert_eq!(
        env.ok(&["volume", "ls", "-q"]).trim(),
        "appdata",
        "[{mode:?}]"
    );

    // --start=false makes the pods without starting them
    env.ok(&["play", "kube", "--start=false", &file]);
    let state = env.ok(&["inspect", "--format", "{{.State.Status}}", "web-pod-0-app"]);
    assert_eq!(state.trim(), "created", "[{mode:?}]");
    let down = env.ok(&["kube", "play", "--down", "--force", &file]);
    assert!(
        down.contains("Volumes removed:\nappdata\n"),
        "[{mode:?}] {down}"
    );
    assert_eq!(env.ok(&["volume", "ls", "-q"]).trim(), "", "[{mode:?}]");
    assert!(names(&env).is_empty(), "[{mode:?}]");
}

both_modes!(generated_pod_plays_back_the_same);
/// generate -> rm -> play: the same pod runs again, with the same
/// container names, published port, environment, and the volume's data.
fn generated_pod_plays_back_the_same(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    env.ok(&["pod", "create", "--name", "shop", "-p", &publish]);
    let www = www_dir(&env, "round trip\n");
    env.run_detached(
        "shop-web",
        &[
            "--pod",
            "shop",
            "-e",
            "COLOR=teal",
            "-v",
            "shopdata:/data",
            "-v",
            &www,
        ],
        &img,
        HTTPD_TERM,
    );
    env.ok(&["exec", "shop-web", "sh", "-c", "echo kept > /data/file"]);
    assert_eq!(http_get(mode, port), "round trip\n", "[{mode:?}]");
    let before = names(&env);
    let (path, _) = generate(&env, "shop.yaml", &["shop"]);
    assert_valid(mode, &[&path]);
    let file = path.display().to_string();

    env.ok(&["pod", "rm", "-f", "shop"]);
    assert!(names(&env).is_empty(), "[{mode:?}]");
    let out = env.ok(&["kube", "play", &file]);
    assert!(out.starts_with("Pod:\n"), "[{mode:?}] {out}");
    // the claim's volume existed: not made again, so not listed
    assert!(!out.contains("Volumes:"), "[{mode:?}] {out}");

    let after = names(&env);
    assert!(
        after.contains(&"shop-web".to_string()),
        "[{mode:?}] {after:?}"
    );
    assert_eq!(before.len(), after.len(), "[{mode:?}] {before:?} {after:?}");
    assert_eq!(http_get(mode, port), "round trip\n", "[{mode:?}]");
    let seen = env.ok(&[
        "exec",
        "shop-web",
        "sh",
        "-c",
        "echo $COLOR; cat /data/file",
    ]);
    assert_eq!(seen, "teal\nkept\n", "[{mode:?}]");
    let ports = env.ok(&["ps", "--filter", "name=shop-web", "--format", "{{.Ports}}"]);
    assert!(
        ports.contains(&format!("127.0.0.1:{port}")),
        "[{mode:?}] {ports}"
    );
    env.ok(&["kube", "down", &file]);
    assert!(names(&env).is_empty(), "[{mode:?}]");
}

both_modes!(bad_files_change_nothing);
/// Bad YAML, an unknown kind, a missing ConfigMap, a volume the pod does
/// not define: one `Error:` line (naming file and line for bad YAML),
/// exit 125, and nothing made (not even the file's volume).
fn bad_files_change_nothing(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    let bad = write_yaml(
        &env,
        "bad.yaml",
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: v\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [oops\n",
    );
    assert_refused(&env, &["kube", "play", &bad], "bad.yaml");
    let out = env.run(&["kube", "play", &bad]);
    assert!(out.stderr.contains("line 9"), "[{mode:?}] {}", out.stderr);

    let typed = write_yaml(
        &env,
        "typed.yaml",
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: {img}\n    ports:\n    - containerPort: eighty\n"
        ),
    );
    assert_refused(&env, &["kube", "play", &typed], "line 10");

    let kind = write_yaml(&env, "kind.yaml", "apiVersion: v1\nkind: Frobnicator\n");
    assert_refused(&env, &["kube", "play", &kind], "Frobnicator");

    let missing = write_yaml(
        &env,
        "missing.yaml",
        &format!(
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: v\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: {img}\n    envFrom:\n    - configMapRef:\n        name: nowhere\n"
        ),
    );
    assert_refused(&env, &["kube", "play", &missing], "nowhere");

    // an image that cannot be found fails after the volume was made: it
    // is removed again
    let noimage = write_yaml(
        &env,
        "noimage.yaml",
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: v\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: 127.0.0.1:1/none:1\n",
    );
    assert_refused(&env, &["kube", "play", &noimage], "none");
    assert!(names(&env).is_empty(), "[{mode:?}]");
}

both_modes!(play_job_and_daemonset);
/// A Job's pod runs its program once (restart Never) and a DaemonSet is
/// one pod here; both named `<name>-pod`, as podman names them.
fn play_job_and_daemonset(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    let mark = format!(
        "        env:\n        - name: {MARK_VAR}\n          value: \"{}\"\n",
        env.dir.display()
    );
    let yaml = format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: once\nspec:\n  template:\n    spec:\n      containers:\n      - name: task\n        image: {img}\n        command: [sh, -c, \"echo job done\"]\n{mark}\
         ---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\nspec:\n  selector:\n    matchLabels:\n      app: agent\n  template:\n    metadata:\n      labels:\n        app: agent\n    spec:\n      containers:\n      - name: watch\n        image: {img}\n        command: {SLEEP_YAML}\n{mark}"
    );
    let file = write_yaml(&env, "jobs.yaml", &yaml);
    env.ok(&["kube", "play", &file]);
    assert_eq!(
        word_set(&env.ok(&["pod", "ps", "--format", "{{.Name}}"])),
        word_set("once-pod agent-pod"),
        "[{mode:?}]"
    );
    assert_eq!(env.ok(&["wait", "once-pod-task"]).trim(), "0", "[{mode:?}]");
    assert_eq!(
        env.ok(&["logs", "once-pod-task"]),
        "job done\n",
        "[{mode:?}]"
    );
    let policy = env.ok(&[
        "inspect",
        "--format",
        "{{.HostConfig.RestartPolicy.Name}}",
        "once-pod-task",
    ]);
    assert_eq!(policy.trim(), "", "[{mode:?}] a Job's pod is not restarted");
    let state = env.ok(&[
        "inspect",
        "--format",
        "{{.State.Status}}",
        "agent-pod-watch",
    ]);
    assert_eq!(state.trim(), "running", "[{mode:?}]");
    env.ok(&["kube", "down", &file]);
    assert!(names(&env).is_empty(), "[{mode:?}]");
    // --network: the pods' network mode (none: a loopback only);
    // --no-pod-prefix: containers named as in the file
    env.ok(&[
        "kube",
        "play",
        "--network",
        "none",
        "--no-pod-prefix",
        &file,
    ]);
    assert!(
        names(&env).contains(&"watch".to_string()),
        "[{mode:?}] {:?}",
        names(&env)
    );
    let ifaces = env.ok(&["exec", "watch", "cat", "/proc/net/dev"]);
    let names_seen: Vec<&str> = ifaces
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(names_seen, ["lo"], "[{mode:?}] {ifaces}");
    env.ok(&["kube", "down", &file]);
}

both_modes!(play_builds_images_and_shares_empty_dirs);
/// An image named after a directory beside the file, with a
/// Containerfile, is built when missing (not again unless --build); two
/// containers of a pod share an emptyDir, which `kube down` removes.
fn play_builds_images_and_shares_empty_dirs(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    let ctx = env.user_dir("yaml").join("kubeapp");
    env.write_user_file(
        &ctx.join("Containerfile"),
        format!("FROM {img}\nRUN echo built > /built\n").as_bytes(),
    );
    let mark = format!(
        "    env:\n    - name: {MARK_VAR}\n      value: \"{}\"",
        env.dir.display()
    );
    let yaml = [
        "apiVersion: v1",
        "kind: Pod",
        "metadata:",
        "  name: shared",
        "spec:",
        "  containers:",
        "  - name: writer",
        "    image: kubeapp",
        "    command: [sh, -c, \"trap 'exit 0' TERM; cat /built > /scratch/note; sleep 1000 & wait\"]",
        &mark,
        "    volumeMounts:",
        "    - name: scratch",
        "      mountPath: /scratch",
        "  - name: reader",
        &format!("    image: {img}"),
        &format!("    command: {SLEEP_YAML}"),
        &mark,
        "    volumeMounts:",
        "    - name: scratch",
        "      mountPath: /shared",
        "  volumes:",
        "  - name: scratch",
        "    emptyDir: {}",
        "",
    ]
    .join("\n");
    let file = write_yaml(&env, "shared.yaml", &yaml);
    let out = env.ok(&["kube", "play", &file]);
    assert!(out.contains("Containers:\n"), "[{mode:?}] {out}");
    let images = env.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(images.contains("localhost/kubeapp"), "[{mode:?}] {images}");
    assert!(
        wait_for(std::time::Duration::from_secs(10), || {
            env.run(&["exec", "shared-reader", "cat", "/shared/note"])
                .stdout
                == "built\n"
        }),
        "[{mode:?}] the reader does not see the writer's file"
    );
    let down = env.ok(&["kube", "down", &file]);
    assert!(down.contains("Pods removed:\n"), "[{mode:?}] {down}");
    let leftover = env.runroot_dir().join("kube").join("shared");
    assert!(!leftover.exists(), "[{mode:?}] {} left", leftover.display());
    // present now: played again without building
    let id = env.ok(&["images", "-q", "localhost/kubeapp"]);
    env.ok(&["kube", "play", &file]);
    assert_eq!(
        env.ok(&["images", "-q", "localhost/kubeapp"]),
        id,
        "[{mode:?}]"
    );
    env.ok(&["kube", "down", &file]);
}

/// The documents of a YAML stream, by `kind/name`.
fn objects(text: &str) -> std::collections::BTreeMap<String, serde_yaml_ng::Value> {
    use serde::Deserialize;
    let mut out = std::collections::BTreeMap::new();
    for d in serde_yaml_ng::Deserializer::from_str(text) {
        let v = serde_yaml_ng::Value::deserialize(d).unwrap();
        if v.is_null() {
            continue;
        }
        let key = format!(
            "{}/{}",
            v["kind"].as_str().unwrap(),
            v["metadata"]["name"].as_str().unwrap()
        );
        out.insert(key, v);
    }
    out
}

both_modes!(compose_convert_kube_plays_the_app);
/// `compose convert --kube`: a web service and its db with a named
/// volume become valid Deployments, ClusterIP Services named after the
/// services, a claim; image, ports, env, command, probe and labels are
/// carried; the file plays back into the running app, web reachable.
fn compose_convert_kube_plays_the_app(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    let port = free_port();
    let www = www_dir(&env, "converted\n");
    let dir = env.user_dir("shop");
    let compose = dir.join("compose.yaml");
    let httpd = HTTPD_TERM
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    env.write_user_file(
        &compose,
        format!(
            "services:\n  web:\n    image: {img:?}\n    command: [{httpd}]\n    ports: [\"127.0.0.1:{port}:80\"]\n    environment:\n      DB_HOST: db\n      GREETING: hello\n    depends_on: [db]\n    volumes: [{www:?}]\n    user: \"0\"\n    labels:\n      tier: front\n      description: the shop front\n    healthcheck:\n      test: [\"CMD-SHELL\", \"wget -q -O- localhost:80\"]\n      interval: 10s\n  db:\n    image: {img:?}\n    command: [\"sh\", \"-c\", {SLEEP:?}]\n    expose: [\"5432\"]\n    deploy:\n      replicas: 2\n    volumes: [\"data:/data\"]\nvolumes:\n  data:\n"
        )
        .as_bytes(),
    );
    let file = env.user_dir("yaml").join("shop.yaml");
    let f = compose.display().to_string();
    let out = file.display().to_string();
    let made = env.run(&["compose", "-f", &f, "convert", "--kube", "-o", &out]);
    assert_eq!(made.status, 0, "[{mode:?}] {made:?}");
    // what Kubernetes objects here cannot hold is named, not lost silently
    assert!(
        made.stderr
            .contains("service \"web\": not converted to Kubernetes: user"),
        "[{mode:?}] {}",
        made.stderr
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let objs = objects(&text);
    let keys: Vec<&String> = objs.keys().collect();
    assert_eq!(
        keys,
        [
            "Deployment/db-deployment",
            "Deployment/web-deployment",
            "PersistentVolumeClaim/shop-data",
            "Service/db",
            "Service/web"
        ],
        "[{mode:?}] {text}"
    );
    let db = &objs["Service/db"]["spec"];
    assert_eq!(db["type"].as_str(), Some("ClusterIP"), "[{mode:?}] {text}");
    assert_eq!(db["ports"][0]["port"].as_u64(), Some(5432), "[{mode:?}]");
    assert_eq!(db["selector"]["app"].as_str(), Some("db"), "[{mode:?}]");
    let dbd = &objs["Deployment/db-deployment"]["spec"];
    assert_eq!(dbd["replicas"].as_u64(), Some(2), "[{mode:?}] {text}");
    let claim = &dbd["template"]["spec"]["volumes"][0]["persistentVolumeClaim"];
    assert_eq!(claim["claimName"].as_str(), Some("shop-data"), "[{mode:?}]");
    let web = &objs["Deployment/web-deployment"]["spec"]["template"];
    assert_eq!(web["metadata"]["labels"]["tier"].as_str(), Some("front"));
    // not a valid label value: kept as an annotation
    assert_eq!(
        web["metadata"]["annotations"]["description"].as_str(),
        Some("the shop front"),
        "[{mode:?}] {text}"
    );
    let c = &web["spec"]["containers"][0];
    assert_eq!(c["image"].as_str(), Some(img.as_str()), "[{mode:?}]");
    assert_eq!(
        c["args"][2].as_str(),
        Some(HTTPD_TERM[2]),
        "[{mode:?}] {text}"
    );
    assert_eq!(c["ports"][0]["containerPort"].as_u64(), Some(80));
    assert_eq!(c["ports"][0]["hostPort"].as_u64(), Some(port as u64));
    assert_eq!(c["env"][0]["name"].as_str(), Some("DB_HOST"), "[{mode:?}]");
    assert_eq!(c["env"][1]["value"].as_str(), Some("hello"), "[{mode:?}]");
    let probe = &c["livenessProbe"];
    assert_eq!(
        probe["exec"]["command"][2].as_str(),
        Some("wget -q -O- localhost:80")
    );
    assert_eq!(probe["periodSeconds"].as_u64(), Some(10), "[{mode:?}]");
    let host = &web["spec"]["volumes"][0]["hostPath"];
    assert_eq!(
        host["type"].as_str(),
        Some("Directory"),
        "[{mode:?}] {text}"
    );

    // stdout, as Pods (one each); kinds compose has no use for, or two
    // replicas as one Pod, are refused
    let stdout = env.ok(&[
        "compose", "-f", &f, "convert", "--kube", "--type", "pod", "--scale", "db=1",
    ]);
    assert!(stdout.contains("kind: Pod\n"), "[{mode:?}] {stdout}");
    assert_refused(
        &env,
        &["compose", "-f", &f, "convert", "--kube", "--type", "job"],
        "job",
    );
    assert_refused(
        &env,
        &["compose", "-f", &f, "convert", "--kube", "--type", "pod"],
        "replicas",
    );
    assert_refused(
        &env,
        &["compose", "-f", &f, "convert", "--type", "pod"],
        "--kube",
    );

    // --service: the published port through a NodePort Service instead of
    // a hostPort; db stays ClusterIP
    let nodes = env.user_dir("yaml").join("nodes.yaml");
    let n = nodes.display().to_string();
    env.ok(&[
        "compose",
        "-f",
        &f,
        "convert",
        "--kube",
        "--service",
        "-o",
        &n,
    ]);
    assert_valid(mode, &[&file, &nodes]);
    let text = std::fs::read_to_string(&nodes).unwrap();
    let objs = objects(&text);
    let web = &objs["Service/web"]["spec"];
    assert_eq!(web["type"].as_str(), Some("NodePort"), "[{mode:?}] {text}");
    assert!(web["ports"][0]["nodePort"].as_u64().is_some(), "[{mode:?}]");
    assert_eq!(
        objs["Service/db"]["spec"]["type"].as_str(),
        Some("ClusterIP")
    );
    let c = &objs["Deployment/web-deployment"]["spec"]["template"]["spec"]["containers"][0];
    assert!(c["ports"][0]["hostPort"].is_null(), "[{mode:?}] {text}");
    // without --kube, convert is config, as in docker
    let services = env.ok(&["compose", "-f", &f, "convert", "--services"]);
    assert_eq!(services, "db\nweb\n", "[{mode:?}]");

    // the round trip: play runs the app, web serves on its published port
    let played = env.ok(&["kube", "play", &out]);
    assert!(played.contains("Pod:"), "[{mode:?}] {played}");
    assert_eq!(http_get(mode, port), "converted\n", "[{mode:?}]");
    let running: Vec<String> = names(&env)
        .into_iter()
        .filter(|n| !n.ends_with("-infra"))
        .collect();
    assert_eq!(
        running,
        [
            "db-deployment-pod-0-db",
            "db-deployment-pod-1-db",
            "web-deployment-pod-web"
        ],
        "[{mode:?}]"
    );
    let greeting = env.ok(&[
        "exec",
        "web-deployment-pod-web",
        "sh",
        "-c",
        "echo $GREETING",
    ]);
    assert_eq!(greeting.trim(), "hello", "[{mode:?}]");
    env.ok(&["kube", "down", &out]);
    assert!(names(&env).is_empty(), "[{mode:?}]");
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => {
                    let bytes = std::fs::read(&p).unwrap_or_default();
                    if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                        hits.push(p.display().to_string());
                    }
                }
                _ => {}
            }
        }
    }
    hits
}

both_modes!(played_secrets_stay_out_of_records);
/// A Secret's keys used as env (secretKeyRef, envFrom with a prefix) go
/// through the secret store: the container sees them, inspect and the
/// container's record do not hold them, `secret ls` lists them under
/// `kube_<secret>_<key>`, and kube down removes them.
fn played_secrets_stay_out_of_records(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    const PW: &str = "pw-only-in-the-store";
    const TOKEN: &str = "token-only-in-the-store";
    // "pw-only-in-the-store" in base64
    let file = write_yaml(
        &env,
        "secret.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ndata:\n  password: cHctb25seS1pbi10aGUtc3RvcmU=\nstringData:\n  token: {TOKEN}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: vault\nspec:\n  containers:\n  - name: app\n    image: {img:?}\n    command: {SLEEP_YAML}\n    env:\n    - name: PASSWORD\n      valueFrom:\n        secretKeyRef:\n          name: creds\n          key: password\n    - name: PLAIN\n      value: visible\n    envFrom:\n    - secretRef:\n        name: creds\n      prefix: S_\n"
        ),
    );
    env.ok(&["kube", "play", &file]);
    let seen = env.ok(&[
        "exec",
        "vault-app",
        "sh",
        "-c",
        "echo $PASSWORD $S_token $S_password $PLAIN",
    ]);
    assert_eq!(seen, format!("{PW} {TOKEN} {PW} visible\n"), "[{mode:?}]");
    let inspect = env.ok(&["inspect", "vault-app"]);
    assert!(inspect.contains("PLAIN=visible"), "[{mode:?}] {inspect}");
    for value in [PW, TOKEN] {
        assert!(!inspect.contains(value), "[{mode:?}] {inspect}");
        let hits = files_containing(&env.store_dir().join("containers"), value);
        // the runtime's spec of the running container is the only place
        // (as with `run --secret type=env`)
        assert!(
            hits.iter().all(|p| p.ends_with("spec.json")),
            "[{mode:?}] {value} is in {hits:?}"
        );
    }
    let listed = env.ok(&["secret", "ls", "--format", "{{.Name}}"]);
    assert_eq!(
        word_set(&listed),
        word_set("kube_creds_password kube_creds_token"),
        "[{mode:?}]"
    );
    // a second play with --replace keeps working on the stored secrets
    env.ok(&["kube", "play", "--replace", &file]);
    env.ok(&["kube", "down", &file]);
    assert!(names(&env).is_empty(), "[{mode:?}]");
    let listed = env.ok(&["secret", "ls", "--format", "{{.Name}}"]);
    assert_eq!(listed.trim(), "", "[{mode:?}]");
}

/// Host interface names, as /proc/net/dev lists them.
fn interfaces(dev: &str) -> std::collections::BTreeSet<String> {
    dev.lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_string())
        .collect()
}

both_modes!(play_honours_pod_spec_fields);
/// initContainers run in order to completion before the app (and are
/// gone after); securityContext, resources, an exec livenessProbe,
/// hostPID/hostIPC and annotations reach the container; hostNetwork is
/// the host's network; `--annotation`, `--log-opt` and `--no-hosts` apply
/// to every container.
fn play_honours_pod_spec_fields(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    let mark = format!(
        "    env:\n    - name: {MARK_VAR}\n      value: \"{}\"\n",
        env.dir.display()
    );
    // rootless, this host (cgroup v1) has no controllers to limit with
    let resources = "    resources:\n      limits:\n        memory: 64Mi\n        cpu: 500m\n      requests:\n        memory: 32Mi\n";
    if mode == Mode::Rootless {
        let limited = write_yaml(
            &env,
            "limited.yaml",
            &format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: limited\nspec:\n  containers:\n  - name: a\n    image: {img}\n{resources}"),
        );
        assert_refused(
            &env,
            &["kube", "play", &limited],
            "controller is not available",
        );
    }
    let resources = if mode == Mode::Root { resources } else { "" };
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: spec\n  annotations:\n    team: blue\nspec:\n  hostPID: true\n  hostIPC: true\n  securityContext:\n    runAsGroup: 1234\n  initContainers:\n  - name: first\n    image: {img}\n    command: [sh, -c, \"echo one > /work/order\"]\n{mark}    volumeMounts:\n    - name: work\n      mountPath: /work\n  - name: second\n    image: {img}\n    command: [sh, -c, \"echo two >> /work/order\"]\n{mark}    volumeMounts:\n    - name: work\n      mountPath: /work\n  containers:\n  - name: app\n    image: {img}\n    command: {SLEEP_YAML}\n{mark}    securityContext:\n      runAsUser: 4321\n      readOnlyRootFilesystem: true\n      allowPrivilegeEscalation: false\n      capabilities:\n        drop: [ALL]\n        add: [NET_RAW]\n{resources}    livenessProbe:\n      exec:\n        command: [\"true\"]\n      periodSeconds: 7\n      failureThreshold: 4\n    volumeMounts:\n    - name: work\n      mountPath: /work\n  volumes:\n  - name: work\n    emptyDir: {{}}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: onhost\nspec:\n  hostNetwork: true\n  containers:\n  - name: net\n    image: {img}\n    command: [sh, -c, \"echo hello-log; {SLEEP}\"]\n{mark}"
    );
    let file = write_yaml(&env, "spec.yaml", &yaml);
    let logs = env.user_dir("logs").join("ctr.log");
    let log_opt = format!("path={}", logs.display());
    let out = env.ok(&[
        "kube",
        "play",
        "--annotation",
        "origin=kube-test",
        "--log-opt",
        &log_opt,
        "--no-hosts",
        &file,
    ]);
    assert_eq!(out.matches("Pod:").count(), 2, "[{mode:?}] {out}");
    // the init containers ran, in order, and are gone
    let seen = env.ok(&[
        "exec",
        "spec-app",
        "sh",
        "-c",
        "cat /work/order; id -u; id -g",
    ]);
    assert_eq!(seen, "one\ntwo\n4321\n1234\n", "[{mode:?}]");
    let all = names(&env);
    assert!(
        !all.iter().any(|n| n == "spec-first" || n == "spec-second"),
        "[{mode:?}] {all:?}"
    );
    let c = env.inspect_container("spec-app");
    let hc = &c["HostConfig"];
    assert_eq!(hc["ReadonlyRootfs"], true, "[{mode:?}] {hc}");
    assert_eq!(hc["CapDrop"], serde_json::json!(["ALL"]), "[{mode:?}] {hc}");
    assert!(
        hc["CapAdd"].to_string().contains("NET_RAW"),
        "[{mode:?}] {hc}"
    );
    assert!(
        hc["SecurityOpt"].to_string().contains("no-new-privileges"),
        "[{mode:?}] {hc}"
    );
    if mode == Mode::Root {
        assert_eq!(hc["Memory"], 64 << 20, "[{mode:?}] {hc}");
        assert_eq!(hc["MemoryReservation"], 32 << 20, "[{mode:?}] {hc}");
        assert_eq!(hc["NanoCpus"], 500_000_000, "[{mode:?}] {hc}");
    }
    assert_eq!(hc["PidMode"], "host", "[{mode:?}] {hc}");
    assert_eq!(hc["IpcMode"], "host", "[{mode:?}] {hc}");
    let health = &c["Config"]["Healthcheck"];
    assert_eq!(
        health["Test"],
        serde_json::json!(["CMD", "true"]),
        "[{mode:?}] {health}"
    );
    assert_eq!(health["Interval"], 7_000_000_000u64, "[{mode:?}] {health}");
    assert_eq!(health["Retries"], 4, "[{mode:?}] {health}");
    let notes = &c["Config"]["Annotations"];
    assert_eq!(notes["team"], "blue", "[{mode:?}] {notes}");
    assert_eq!(notes["origin"], "kube-test", "[{mode:?}] {notes}");
    // the root filesystem is read-only, the emptyDir is not
    let ro = env.run(&["exec", "spec-app", "touch", "/nope"]);
    assert_ne!(ro.status, 0, "[{mode:?}] wrote to a read-only rootfs");
    // --no-hosts: the pod's /etc/hosts is not written
    let hosts = env.run(&["exec", "spec-app", "cat", "/etc/hosts"]).stdout;
    assert!(!hosts.contains("spec"), "[{mode:?}] {hosts}");
    // --log-opt path=: the container logs there
    let logged = wait_for(std::time::Duration::from_secs(10), || {
        std::fs::read_to_string(&logs).is_ok_and(|l| l.contains("hello-log"))
    });
    assert!(logged, "[{mode:?}] no hello-log in {}", logs.display());
    // hostNetwork: the host's interfaces
    let dev = env.ok(&["exec", "onhost-net", "cat", "/proc/net/dev"]);
    let host = std::fs::read_to_string("/proc/net/dev").unwrap();
    assert_eq!(interfaces(&dev), interfaces(&host), "[{mode:?}] {dev}");
    env.ok(&["kube", "down", &file]);
    assert!(names(&env).is_empty(), "[{mode:?}] {:?}", names(&env));
}

both_modes!(play_refuses_what_it_cannot_honour);
/// Fields and flags coracle cannot honour are refused by name, with
/// nothing made; a failing init container undoes the play; kube apply
/// (a remote cluster) is refused.
fn play_refuses_what_it_cannot_honour(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    let pod = |extra_meta: &str, spec: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n{extra_meta}spec:\n{spec}  containers:\n  - name: a\n    image: {img}\n    command: {SLEEP_YAML}\n")
    };
    let init =
        "  initContainers:\n  - name: i\n    image: IMG\n    command: [sh, -c, \"exit 3\"]\n"
            .replace("IMG", &img);
    let cases = [
        (
            "gpu.yaml",
            format!(
                "{}    resources:\n      limits:\n        nvidia.com/gpu: 1\n",
                pod("", "")
            ),
            vec!["kube", "play"],
            "nvidia.com/gpu",
        ),
        (
            "http.yaml",
            format!(
                "{}    livenessProbe:\n      httpGet:\n        path: /\n        port: 80\n",
                pod("", "")
            ),
            vec!["kube", "play"],
            "httpGet",
        ),
        (
            "always.yaml",
            pod(
                "  annotations:\n    io.podman.annotations.init.container.type: always\n",
                &init,
            ),
            vec!["kube", "play"],
            "always",
        ),
        (
            "nostart.yaml",
            pod("", &init),
            vec!["kube", "play", "--start=false"],
            "--start=false",
        ),
        (
            "driver.yaml",
            pod("", ""),
            vec!["kube", "play", "--log-driver", "journald"],
            "journald",
        ),
        (
            "ips.yaml",
            pod("", ""),
            vec!["kube", "play", "--ip", "10.0.0.2", "--ip", "10.0.0.3"],
            "--ip",
        ),
        (
            "hostnet.yaml",
            pod("", "  hostNetwork: true\n"),
            vec!["kube", "play", "--network", "none"],
            "hostNetwork",
        ),
    ];
    for (name, text, args, needle) in &cases {
        let f = write_yaml(&env, name, text);
        let mut a = args.clone();
        a.push(&f);
        assert_refused(&env, &a, needle);
    }
    // an init container that fails fails the play, which undoes itself
    let f = write_yaml(&env, "initfail.yaml", &pod("", &init));
    let out = env.run(&["kube", "play", &f]);
    assert_eq!(out.status, 125, "[{mode:?}] {out:?}");
    assert!(out.stderr.contains("code 3"), "[{mode:?}] {}", out.stderr);
    assert!(names(&env).is_empty(), "[{mode:?}] {:?}", names(&env));
    assert_eq!(env.ok(&["pod", "ps", "-q"]).trim(), "", "[{mode:?}]");
    assert_refused(&env, &["kube", "apply", "-f", &f], "kube play");
}

both_modes!(play_wait_tears_down);
/// `kube play --wait` stays until the pods' containers end, then removes
/// what it made; Ctrl-C (SIGINT) ends it early the same way.
fn play_wait_tears_down(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    let pod = |name: &str, command: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: a\n    image: {img}\n    command: {command}\n    env:\n    - name: {MARK_VAR}\n      value: \"{}\"\n", env.dir.display())
    };
    let short = write_yaml(&env, "short.yaml", &pod("short", "[sh, -c, \"sleep 1\"]"));
    let out = env.ok(&["kube", "play", "--wait", &short]);
    assert!(out.starts_with("Pod:\n"), "[{mode:?}] {out}");
    assert!(out.contains("Pods removed:\n"), "[{mode:?}] {out}");
    assert!(names(&env).is_empty(), "[{mode:?}] {:?}", names(&env));
    assert_eq!(env.ok(&["pod", "ps", "-q"]).trim(), "", "[{mode:?}]");

    let long = write_yaml(&env, "long.yaml", &pod("long", SLEEP_YAML));
    let child = env
        .coracle_command(&["kube", "play", "--wait", &long])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let running = wait_for(std::time::Duration::from_secs(20), || {
        env.run(&["inspect", "--format", "{{.State.Status}}", "long-a"])
            .stdout
            .trim()
            == "running"
    });
    assert!(running, "[{mode:?}] long-a never ran");
    let pid = coracle_pid(mode, child.id() as i32);
    // SAFETY: kill(2) on a pid this test started; no memory is involved
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "[{mode:?}] {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Pods removed:\n"), "[{mode:?}] {stdout}");
    assert!(names(&env).is_empty(), "[{mode:?}] {:?}", names(&env));
}

both_modes!(generate_podman_only_annotations);
/// Container annotations become the pod's as `KEY/CONTAINER`; podman's
/// reserved ones (here --init's) only with --podman-only; both valid.
fn generate_podman_only_annotations(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    env.run_detached(
        "noted",
        &["--annotation", "owner=ops", "--init"],
        &img,
        &["sh", "-c", SLEEP],
    );
    let (plain, text) = generate(&env, "plain.yaml", &["noted"]);
    assert!(text.contains("owner/noted: ops"), "[{mode:?}] {text}");
    assert!(!text.contains("io.podman.annotations"), "[{mode:?}] {text}");
    let (podman, text) = generate(&env, "podman.yaml", &["--podman-only", "noted"]);
    assert!(text.contains("owner/noted: ops"), "[{mode:?}] {text}");
    assert!(
        text.contains("io.podman.annotations.init/noted: 'TRUE'")
            || text.contains("io.podman.annotations.init/noted: \"TRUE\""),
        "[{mode:?}] {text}"
    );
    assert_valid(mode, &[&plain, &podman]);
    env.ok(&["rm", "-f", "-t", "0", "noted"]);
}

both_modes!(play_static_ip_and_mac);
/// `--ip` and `--mac-address` give the played pod (on a named network)
/// that address and MAC.
fn play_static_ip_and_mac(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    // a bridge name of this process's own (root's is the host's)
    let bridge = format!("kub231p{}", std::process::id() % 100_000);
    let net = unique("kubenet");
    env.ok(&[
        "network",
        "create",
        "--subnet",
        "10.89.231.0/24",
        "--interface-name",
        &bridge,
        &net,
    ]);
    let file = write_yaml(
        &env,
        "addr.yaml",
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: addr\nspec:\n  containers:\n  - name: a\n    image: {img}\n    command: {SLEEP_YAML}\n    env:\n    - name: {MARK_VAR}\n      value: \"{}\"\n",
            env.dir.display()
        ),
    );
    env.ok(&[
        "kube",
        "play",
        "--network",
        &net,
        "--ip",
        "10.89.231.40",
        "--mac-address",
        "92:d0:c6:0a:29:41",
        &file,
    ]);
    let seen = env.ok(&[
        "exec",
        "addr-a",
        "sh",
        "-c",
        "cat /sys/class/net/eth0/address; cat /proc/net/fib_trie",
    ]);
    assert!(seen.starts_with("92:d0:c6:0a:29:41\n"), "[{mode:?}] {seen}");
    assert!(seen.contains("10.89.231.40"), "[{mode:?}] {seen}");
    env.ok(&["kube", "down", &file]);
    env.ok(&["network", "rm", &net]);
}

both_modes!(play_seccomp_annotations_and_no_hostname);
/// The pod's seccomp annotations pick each container's profile
/// (`localhost/NAME` under `--seccomp-profile-root`, `unconfined` for the
/// pod); `--no-hostname` leaves /etc/hostname unmade; a bad annotation is
/// refused with nothing made.
fn play_seccomp_annotations_and_no_hostname(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    let profiles = env.user_dir("profiles");
    std::fs::write(
        profiles.join("deny-mkdir.json"),
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let mark = format!(
        "    env:\n    - name: {MARK_VAR}\n      value: \"{}\"\n",
        env.dir.display()
    );
    let pod = |annotations: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: sec\n  annotations:\n{annotations}spec:\n  containers:\n  - name: locked\n    image: {img}\n    command: {SLEEP_YAML}\n{mark}  - name: free\n    image: {img}\n    command: {SLEEP_YAML}\n{mark}"
        )
    };
    let bad = write_yaml(
        &env,
        "bad.yaml",
        &pod("    seccomp.security.alpha.kubernetes.io/pod: sideways\n"),
    );
    assert_refused(
        &env,
        &["kube", "play", &bad],
        "invalid seccomp path: sideways",
    );
    assert!(names(&env).is_empty(), "[{mode:?}] {:?}", names(&env));

    let file = write_yaml(
        &env,
        "sec.yaml",
        &pod("    seccomp.security.alpha.kubernetes.io/pod: unconfined\n    container.seccomp.security.alpha.kubernetes.io/locked: localhost/deny-mkdir.json\n"),
    );
    let root = profiles.display().to_string();
    env.ok(&[
        "kube",
        "play",
        "--seccomp-profile-root",
        &root,
        "--no-hostname",
        &file,
    ]);
    // the container's own annotation: its profile, mkdir refused
    let locked = env.run(&["exec", "sec-locked", "mkdir", "/tmp/made"]);
    assert_ne!(locked.status, 0, "[{mode:?}] mkdir passed the profile");
    let seen = env.ok(&[
        "exec",
        "sec-locked",
        "grep",
        "^Seccomp:",
        "/proc/self/status",
    ]);
    assert!(seen.contains('2'), "[{mode:?}] {seen}");
    // the pod's annotation for the other: no filter at all
    env.ok(&["exec", "sec-free", "mkdir", "/tmp/made"]);
    let seen = env.ok(&["exec", "sec-free", "grep", "^Seccomp:", "/proc/self/status"]);
    assert!(seen.contains('0'), "[{mode:?}] {seen}");
    let opts = env.inspect_container("sec-locked")["HostConfig"]["SecurityOpt"].to_string();
    assert!(opts.contains("deny-mkdir.json"), "[{mode:?}] {opts}");
    // --no-hostname: no /etc/hostname was made
    let hostname = env.ok(&[
        "exec",
        "sec-free",
        "sh",
        "-c",
        "test -e /etc/hostname && echo yes || echo no",
    ]);
    assert_eq!(hostname.trim(), "no", "[{mode:?}]");
    env.ok(&["kube", "down", &file]);
}

both_modes!(play_userns_from_annotation_or_flag);
/// The pod's user namespace: podman's `io.podman.annotations.userns`
/// (keep-id: the caller's ids in every container, rootless only), which
/// `--userns` overrides; auto gives the pod a range of its own; a mode
/// coracle lacks is refused with nothing made.
fn play_userns_from_annotation_or_flag(mode: Mode) {
    let env = TestEnv::leaving_nothing(mode);
    let img = env.rt_image();
    let pod = |annotation: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: up\n  annotations:\n    io.podman.annotations.userns: {annotation}\nspec:\n  containers:\n  - name: c\n    image: {img}\n    command: {SLEEP_YAML}\n    env:\n    - name: {MARK_VAR}\n      value: \"{}\"\n",
            env.dir.display()
        )
    };
    let file = write_yaml(&env, "keep.yaml", &pod("keep-id"));
    let userns = |env: &TestEnv| {
        env.ok(&[
            "pod",
            "inspect",
            "--format",
            "{{.InfraConfig.UserNS}}",
            "up",
        ])
        .trim()
        .to_string()
    };
    if mode == Mode::Rootless {
        env.ok(&["kube", "play", &file]);
        let u = test_user();
        assert_eq!(
            env.ok(&["exec", "up-c", "id", "-u"]).trim(),
            u.uid.to_string(),
            "[{mode:?}] keep-id from the annotation"
        );
        assert_eq!(userns(&env), "private", "[{mode:?}]");
    } else {
        assert_refused(&env, &["kube", "play", &file], "keep-id");
    }
    // --userns wins over the annotation.
    env.ok(&["kube", "play", "--replace", "--userns", "host", &file]);
    assert_eq!(
        env.ok(&["exec", "up-c", "id", "-u"]).trim(),
        "0",
        "[{mode:?}] --userns host"
    );
    assert_eq!(userns(&env), "host", "[{mode:?}]");
    env.ok(&["kube", "down", &file]);

    // auto: the pod's own range of subordinate ids, every member in it.
    let auto = write_yaml(&env, "auto.yaml", &pod("auto:size=700"));
    env.ok(&["kube", "play", &auto]);
    let map = env.ok(&["exec", "up-c", "cat", "/proc/self/uid_map"]);
    let ids: u64 = map
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok())
        .sum();
    assert_eq!(
        ids, 700,
        "[{mode:?}] auto:size=700 from the annotation: {map}"
    );
    assert_eq!(userns(&env), "private", "[{mode:?}]");
    env.ok(&["kube", "down", &auto]);
    let odd = write_yaml(&env, "odd.yaml", &pod("sideways"));
    assert_refused(
        &env,
        &["kube", "play", &odd],
        "io.podman.annotations.userns",
    );
    assert_refused(&env, &["kube", "play", "--userns", "bogus", &file], "bogus");
}
