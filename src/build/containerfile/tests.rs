//! Whole-file tests: real-world Containerfiles, error lines, expansion per
//! instruction, stage selection, and a seeded no-panic mutation run.

use super::*;
use expand::MAX_EXPANDED_BYTES;
use std::collections::HashMap;

fn p(src: &str) -> Containerfile {
    parse(src, "Containerfile").unwrap_or_else(|e| panic!("{e}"))
}

fn err(src: &str) -> ParseError {
    parse(src, "Containerfile").expect_err("should fail")
}

fn steps(src: &str) -> Vec<Instruction> {
    p(src)
        .stages
        .last()
        .unwrap()
        .instructions
        .iter()
        .map(|s| s.instruction.clone())
        .collect()
}

fn one(src: &str) -> Instruction {
    steps(&format!("FROM scratch\n{src}\n")).remove(0)
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: v.into(),
    }
}

fn no_vars(_: &str) -> Option<String> {
    None
}

const GO_APP: &str = r#"# syntax=docker/dockerfile:1.7
# escape=\
ARG GO_VERSION=1.22
ARG BASE=alpine:3.19

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS Build
WORKDIR /src
# cache modules first
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go mod download
COPY . .
ARG TARGETOS TARGETARCH
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    # a comment inside the continuation
    go build -o /out/app ./cmd/app

FROM build AS test
RUN go test ./...

FROM ${BASE}
LABEL org.opencontainers.image.title="my app" \
      org.opencontainers.image.source=https://example.com/app
RUN apk add --no-cache ca-certificates && adduser -D -u 10001 app
COPY --from=build --chown=app:app --chmod=0755 /out/app /usr/local/bin/app
USER app
EXPOSE 8080/tcp 9090
HEALTHCHECK --interval=30s --timeout=3s --start-period=1m30s --retries=3 \
  CMD wget -qO- http://localhost:8080/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/app"]
CMD ["serve", "--port=8080"]
"#;

#[test]
fn real_world_multistage() {
    let f = p(GO_APP);
    assert_eq!(f.escape, '\\');
    assert_eq!(
        f.args_before_from,
        vec![
            Arg {
                name: "GO_VERSION".into(),
                default: Some("1.22".into())
            },
            Arg {
                name: "BASE".into(),
                default: Some("alpine:3.19".into())
            },
        ]
    );
    assert_eq!(f.stages.len(), 3);
    let build = &f.stages[0];
    assert_eq!(build.name.as_deref(), Some("build"));
    assert_eq!(build.line, 6);
    assert_eq!(build.from.image, "golang:${GO_VERSION}-alpine");
    assert_eq!(build.from.platform.as_deref(), Some("$BUILDPLATFORM"));
    let lines: Vec<usize> = build.instructions.iter().map(|s| s.line).collect();
    assert_eq!(lines, vec![7, 9, 10, 13, 14, 15]);
    match &build.instructions[2].instruction {
        Instruction::Run(r) => {
            assert_eq!(
                r.mounts,
                vec![
                    "type=cache,target=/go/pkg/mod",
                    "type=cache,target=/root/.cache/go-build"
                ]
            );
            assert_eq!(r.command, Command::Shell("go mod download".into()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        build.instructions[4].instruction,
        Instruction::Arg(vec![
            Arg {
                name: "TARGETOS".into(),
                default: None
            },
            Arg {
                name: "TARGETARCH".into(),
                default: None
            },
        ])
    );
    match &build.instructions[5].instruction {
        Instruction::Run(r) => assert_eq!(
            r.command,
            Command::Shell("CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH     go build -o /out/app ./cmd/app".into())
        ),
        other => panic!("{other:?}"),
    }
    let last = &f.stages[2];
    assert_eq!(last.name, None);
    let ins: Vec<&Instruction> = last.instructions.iter().map(|s| &s.instruction).collect();
    assert_eq!(
        ins[0],
        &Instruction::Label(vec![
            kv("org.opencontainers.image.title", "\"my app\""),
            kv("org.opencontainers.image.source", "https://example.com/app"),
        ])
    );
    match ins[2] {
        Instruction::Copy(c) => {
            assert_eq!(c.from.as_deref(), Some("build"));
            assert_eq!(c.chown.as_deref(), Some("app:app"));
            assert_eq!(c.chmod.as_deref(), Some("0755"));
            assert_eq!(c.sources, vec![Source::Path("/out/app".into())]);
            assert_eq!(c.dest, "/usr/local/bin/app");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ins[3], &Instruction::User("app".into()));
    assert_eq!(
        ins[4],
        &Instruction::Expose(vec!["8080/tcp".into(), "9090".into()])
    );
    assert_eq!(
        ins[5],
        &Instruction::Healthcheck(Healthcheck::Cmd {
            test: Command::Shell("wget -qO- http://localhost:8080/healthz || exit 1".into()),
            interval: Some(Duration::from_secs(30)),
            timeout: Some(Duration::from_secs(3)),
            start_period: Some(Duration::from_secs(90)),
            start_interval: None,
            retries: Some(3),
        })
    );
    assert_eq!(ins[6], &Instruction::StopSignal("SIGTERM".into()));
    assert_eq!(
        ins[7],
        &Instruction::Entrypoint(Command::Exec(vec!["/usr/local/bin/app".into()]))
    );
    assert_eq!(
        ins[8],
        &Instruction::Cmd(Command::Exec(vec!["serve".into(), "--port=8080".into()]))
    );
    assert_eq!(
        last.instructions[8].text,
        "CMD [\"serve\", \"--port=8080\"]"
    );

    // Targets: the last stage copies from `build`; `test` is built FROM it.
    assert_eq!(f.stages_for_target(None, &no_vars).unwrap(), vec![0, 2]);
    assert_eq!(
        f.stages_for_target(Some("TEST"), &no_vars).unwrap(),
        vec![0, 1]
    );
    // A build-arg can point the final FROM at a stage.
    let args = |n: &str| (n == "BASE").then(|| "test".to_string());
    assert_eq!(f.stages_for_target(None, &args).unwrap(), vec![0, 1, 2]);
    assert!(f.stages_for_target(Some("nope"), &no_vars).is_err());
}

#[test]
fn stage_dependencies() {
    let f = p("FROM alpine AS a\nFROM alpine AS b\nFROM scratch AS c\nCOPY --from=0 /x /x\n\
               FROM b AS d\nRUN --mount=type=bind,from=c,target=/c true\nFROM d\nCOPY --from=busybox /bin/sh /sh\n");
    assert_eq!(
        f.stages_for_target(None, &no_vars).unwrap(),
        vec![0, 1, 2, 3, 4]
    );
    assert_eq!(
        f.stages_for_target(Some("c"), &no_vars).unwrap(),
        vec![0, 2]
    );
    assert_eq!(f.stages_for_target(Some("b"), &no_vars).unwrap(), vec![1]);
    let meta = f.meta_args(&no_vars).unwrap();
    assert_eq!(f.resolve_from(2, &meta).unwrap(), BaseRef::Scratch);
    assert_eq!(f.resolve_from(3, &meta).unwrap(), BaseRef::Stage(1));
    assert_eq!(
        f.resolve_from(0, &meta).unwrap(),
        BaseRef::Image("alpine".into())
    );
    assert_eq!(
        f.resolve_copy_from(4, "busybox").unwrap(),
        BaseRef::Image("busybox".into())
    );
    assert_eq!(f.resolve_copy_from(4, "C").unwrap(), BaseRef::Stage(2));
    assert!(f.resolve_copy_from(1, "1").is_err());
    // A later stage's name is an image name, as in Docker.
    let f = p("FROM later\nFROM alpine AS later\n");
    assert_eq!(
        f.stages_for_target(Some("later"), &no_vars).unwrap(),
        vec![1]
    );
    assert_eq!(f.stages_for_target(None, &no_vars).unwrap(), vec![1]);
    assert_eq!(
        f.stages_for_target(Some("0"), &no_vars).err().map(|e| e.0),
        Some("target stage \"0\" could not be found".into())
    );
    let f = p("FROM alpine AS a\nCOPY --from=3 / /\nFROM a\n");
    assert!(f
        .stages_for_target(None, &no_vars)
        .unwrap_err()
        .0
        .contains("line 2"));
}

#[test]
fn meta_args_chain_and_override() {
    let f = p("ARG A=1\nARG B=${A}2\nARG C\nFROM img:$B$C\n");
    let meta = f.meta_args(&no_vars).unwrap();
    assert_eq!(meta.get("B").map(String::as_str), Some("12"));
    assert!(!meta.contains_key("C"));
    assert_eq!(
        f.resolve_from(0, &meta).unwrap(),
        BaseRef::Image("img:12".into())
    );
    let over: HashMap<&str, &str> = [("A", "9"), ("C", "-x")].into();
    let meta = f
        .meta_args(&|n| over.get(n).map(|v| v.to_string()))
        .unwrap();
    assert_eq!(
        f.resolve_from(0, &meta).unwrap(),
        BaseRef::Image("img:92-x".into())
    );
    let f = p("ARG X\nFROM ${X}\n");
    assert!(f.resolve_from(0, &f.meta_args(&no_vars).unwrap()).is_err());
}

#[test]
fn env_and_label_forms() {
    assert_eq!(
        one("ENV A=1 B=\"two words\" C=three\\ words"),
        Instruction::Env(vec![
            kv("A", "1"),
            kv("B", "\"two words\""),
            kv("C", "three\\ words"),
        ])
    );
    assert_eq!(
        one("ENV PATH /usr/local/bin:$PATH"),
        Instruction::Env(vec![kv("PATH", "/usr/local/bin:$PATH")])
    );
    assert_eq!(
        one("ENV MSG hello   big world"),
        Instruction::Env(vec![kv("MSG", "hello   big world")])
    );
    assert_eq!(one("env E="), Instruction::Env(vec![kv("E", "")]));
    assert_eq!(
        one("LABEL \"com.example.vendor\"=\"ACME\" version=1.0 desc='a b'"),
        Instruction::Label(vec![
            kv("\"com.example.vendor\"", "\"ACME\""),
            kv("version", "1.0"),
            kv("desc", "'a b'"),
        ])
    );
    // Expansion: single quotes keep `$`, double quotes expand, ENV sees the old scope.
    let scope = |n: &str| match n {
        "V" => Some("v".to_string()),
        "A" => Some("old".into()),
        _ => None,
    };
    let ins = one("ENV A=new B=$A C='$V' D=\"$V x\" E=\\$V F=${U:-d}")
        .expand('\\', &scope)
        .unwrap();
    assert_eq!(
        ins,
        Instruction::Env(vec![
            kv("A", "new"),
            kv("B", "old"),
            kv("C", "$V"),
            kv("D", "v x"),
            kv("E", "$V"),
            kv("F", "d"),
        ])
    );
    let ins = one("LABEL \"com.example.vendor\"=\"ACME $V\" k='$V'")
        .expand('\\', &scope)
        .unwrap();
    assert_eq!(
        ins,
        Instruction::Label(vec![kv("com.example.vendor", "ACME v"), kv("k", "$V")])
    );
    let ins = one("ENV PATH /opt/$V/bin:$PATH")
        .expand('\\', &scope)
        .unwrap();
    assert_eq!(ins, Instruction::Env(vec![kv("PATH", "/opt/v/bin:")]));
}

#[test]
fn which_instructions_expand() {
    let scope = |n: &str| match n {
        "V" => Some("v".to_string()),
        "P" => Some("80 443/udp".to_string()),
        _ => None,
    };
    let x = |s: &str| one(s).expand('\\', &scope).unwrap();
    assert_eq!(x("RUN echo $V"), one("RUN echo $V"));
    assert_eq!(x("CMD echo $V"), one("CMD echo $V"));
    assert_eq!(x("ENTRYPOINT [\"$V\"]"), one("ENTRYPOINT [\"$V\"]"));
    assert_eq!(x("ONBUILD COPY $V /"), one("ONBUILD COPY $V /"));
    assert_eq!(x("HEALTHCHECK CMD $V"), one("HEALTHCHECK CMD $V"));
    assert_eq!(x("SHELL [\"/bin/$V\"]"), one("SHELL [\"/bin/$V\"]"));
    assert_eq!(
        x("USER $V:${G:-staff}"),
        Instruction::User("v:staff".into())
    );
    assert_eq!(x("WORKDIR /app/$V"), Instruction::Workdir("/app/v".into()));
    assert_eq!(
        x("STOPSIGNAL SIG${V}"),
        Instruction::StopSignal("SIGv".into())
    );
    assert_eq!(
        x("EXPOSE $P 8080"),
        Instruction::Expose(vec!["80".into(), "443/udp".into(), "8080".into()])
    );
    assert_eq!(
        x("VOLUME [\"/data/$V\"]"),
        Instruction::Volume(vec!["/data/v".into()])
    );
    assert_eq!(
        x("VOLUME /a/$V /b"),
        Instruction::Volume(vec!["/a/v".into(), "/b".into()])
    );
    assert_eq!(
        x("ARG X=${V}1 Y"),
        Instruction::Arg(vec![
            Arg {
                name: "X".into(),
                default: Some("v1".into())
            },
            Arg {
                name: "Y".into(),
                default: None
            },
        ])
    );
    match x("COPY --chown=$V:$V --from=$V ${V}.txt \\$lit /dst/$V/") {
        Instruction::Copy(c) => {
            assert_eq!(c.chown.as_deref(), Some("v:v"));
            assert_eq!(c.from.as_deref(), Some("v"));
            assert_eq!(
                c.sources,
                vec![Source::Path("v.txt".into()), Source::Path("$lit".into())]
            );
            assert_eq!(c.dest, "/dst/v/");
        }
        other => panic!("{other:?}"),
    }
    for ins in [
        one("RUN a"),
        one("CMD a"),
        one("ENTRYPOINT a"),
        one("ONBUILD RUN a"),
        one("MAINTAINER a"),
        one("SHELL [\"a\"]"),
    ] {
        assert!(!ins.expands_variables(), "{}", ins.keyword());
    }
    for ins in [
        one("ENV a=b"),
        one("COPY a b"),
        one("ADD a b"),
        one("USER a"),
        one("WORKDIR a"),
        one("ARG a"),
    ] {
        assert!(ins.expands_variables(), "{}", ins.keyword());
    }
    // A bad substitution is the builder's error, with the message from expand.
    assert!(one("WORKDIR ${V").expand('\\', &scope).is_err());
}

#[test]
fn shell_and_exec_forms() {
    assert_eq!(
        one("CMD [\"a\", \"b c\"]"),
        Instruction::Cmd(Command::Exec(vec!["a".into(), "b c".into()]))
    );
    // Not valid JSON: shell form, as Docker does (single quotes are not JSON).
    assert_eq!(
        one("CMD ['a', 'b']"),
        Instruction::Cmd(Command::Shell("['a', 'b']".into()))
    );
    assert_eq!(
        one("ENTRYPOINT [\"a\", "),
        Instruction::Entrypoint(Command::Shell("[\"a\",".into()))
    );
    assert_eq!(
        one("ENTRYPOINT []"),
        Instruction::Entrypoint(Command::Exec(vec![]))
    );
    assert_eq!(one("CMD"), Instruction::Cmd(Command::Exec(vec![])));
    assert_eq!(
        one("RUN [ \"echo\" ,\"x\" ]"),
        Instruction::Run(Run {
            command: Command::Exec(vec!["echo".into(), "x".into()]),
            mounts: vec![],
            network: None,
            security: None,
            heredocs: vec![],
        })
    );
    assert_eq!(
        one("SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]"),
        Instruction::Shell(vec![
            "/bin/bash".into(),
            "-o".into(),
            "pipefail".into(),
            "-c".into(),
        ])
    );
    assert!(err("FROM a\nCMD [1, 2]").message.contains("strings only"));
    assert!(err("FROM a\nSHELL /bin/sh -c")
        .message
        .contains("JSON form"));
    // `--` ends flags so a shell command may start with dashes.
    match one("RUN --network=none -- --weird") {
        Instruction::Run(r) => {
            assert_eq!(r.network.as_deref(), Some("none"));
            assert_eq!(r.command, Command::Shell("--weird".into()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn case_insensitive_and_misc_instructions() {
    let f = p("from alpine as Base\nrun echo hi\nMaintainer Jane <j@x>\nVolume /data /logs\nuser 1000:1000\n\
               OnBuild add . /app\nhealthcheck none\nworkdir \"/my dir\"\n");
    let ins: Vec<_> = f.stages[0]
        .instructions
        .iter()
        .map(|s| s.instruction.clone())
        .collect();
    assert_eq!(f.stages[0].name.as_deref(), Some("base"));
    assert_eq!(ins[1], Instruction::Maintainer("Jane <j@x>".into()));
    assert_eq!(
        ins[2],
        Instruction::Volume(vec!["/data".into(), "/logs".into()])
    );
    assert_eq!(ins[3], Instruction::User("1000:1000".into()));
    match &ins[4] {
        Instruction::OnBuild(o) => {
            assert_eq!(o.trigger, "add . /app");
            assert!(matches!(*o.instruction, Instruction::Add(_)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ins[5], Instruction::Healthcheck(Healthcheck::None));
    assert_eq!(
        ins[6].expand('\\', &no_vars).unwrap(),
        Instruction::Workdir("/my dir".into())
    );
}

#[test]
fn copy_and_add_flags() {
    match one("ADD --checksum=sha256:abc --chmod=644 --link https://x/y.tgz /opt/") {
        Instruction::Add(c) => {
            assert_eq!(c.checksum.as_deref(), Some("sha256:abc"));
            assert_eq!(c.chmod.as_deref(), Some("644"));
            assert!(c.link);
            assert_eq!(c.sources, vec![Source::Path("https://x/y.tgz".into())]);
        }
        other => panic!("{other:?}"),
    }
    match one("COPY --link=false [\"a b\", \"c\", \"/d e/\"]") {
        Instruction::Copy(c) => {
            assert!(!c.link);
            assert_eq!(
                c.sources,
                vec![Source::Path("a b".into()), Source::Path("c".into())]
            );
            assert_eq!(c.dest, "/d e/");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err("FROM a\nADD --from=x a b").message,
        "unknown flag: from"
    );
    assert_eq!(
        err("FROM a\nCOPY --checksum=x a b").message,
        "unknown flag: checksum"
    );
    assert_eq!(
        err("FROM a\nCOPY --from a b").message,
        "missing a value on flag: from"
    );
    assert_eq!(
        err("FROM a\nCOPY --from=a --from=b a b").message,
        "duplicate flag specified: from"
    );
    assert_eq!(
        err("FROM a\nCOPY --link=maybe a b").message,
        "expecting boolean value for flag link, not: maybe"
    );
    assert!(err("FROM a\nCOPY onlyone")
        .message
        .starts_with("COPY requires at least two arguments"));
    assert_eq!(err("FROM a\nENV --x=1 a=b").message, "unknown flag: x");
}

#[test]
fn heredocs() {
    let f = p("FROM alpine\nRUN <<EOF\napk add git\necho $HOME\nEOF\nRUN python3 <<PY > /out\nprint('hi')\nPY\n\
               RUN <<-\"END\" bash\n\techo '$x'\n\t\techo two\n\tEND\nCOPY <<a.txt <<'b.sh' /dst/\nA $V\na.txt\nB $V\nb.sh\n\
               RUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\nRUN cat <<A <<B\n1\nA\n2\nB\nCMD done\n");
    let st = &f.stages[0];
    let lines: Vec<usize> = st.instructions.iter().map(|s| s.line).collect();
    assert_eq!(lines, vec![2, 6, 9, 13, 18, 22, 27]);
    let run = |i: usize| match &st.instructions[i].instruction {
        Instruction::Run(r) => r.clone(),
        other => panic!("{other:?}"),
    };
    let r = run(0);
    assert_eq!(r.command, Command::Shell("<<EOF".into()));
    assert_eq!(r.heredocs[0].content, "apk add git\necho $HOME\n");
    assert_eq!(
        r.program(),
        Program::Shell("apk add git\necho $HOME\n".into())
    );
    let r = run(1);
    assert_eq!(
        r.program(),
        Program::Shell("python3 <<PY > /out\nprint('hi')\nPY".into())
    );
    let r = run(2);
    assert_eq!(r.heredocs[0].content, "echo '$x'\necho two\n");
    assert!(r.heredocs[0].chomp && !r.heredocs[0].expand);
    assert_eq!(
        r.program(),
        Program::Shell("<<-\"END\" bash\necho '$x'\necho two\nEND".into())
    );
    match &st.instructions[3].instruction {
        Instruction::Copy(c) => {
            let scope = |n: &str| (n == "V").then(|| "v".to_string());
            let Instruction::Copy(x) = Instruction::Copy(c.clone()).expand('\\', &scope).unwrap()
            else {
                unreachable!()
            };
            let bodies: Vec<(&str, &str)> = x
                .sources
                .iter()
                .map(|s| match s {
                    Source::Heredoc(h) => (h.name.as_str(), h.content.as_str()),
                    Source::Path(p) => panic!("{p}"),
                })
                .collect();
            assert_eq!(bodies, vec![("a.txt", "A v\n"), ("b.sh", "B $V\n")]);
            assert_eq!(x.dest, "/dst/");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        run(4).program(),
        Program::Script {
            name: "EOF".into(),
            content: "#!/usr/bin/env python3\nprint(1)\n".into()
        }
    );
    assert_eq!(
        run(5).program(),
        Program::Shell("cat <<A <<B\n1\nA\n2\nB".into())
    );
    // Step text never holds a body.
    assert_eq!(st.instructions[1].text, "RUN python3 <<PY > /out");
    // Heredoc openers are not recognised inside quotes or glued to a word.
    assert!(run(0).heredocs.len() == 1);
    let r = match one("RUN echo \"<<EOF\" cat<<X") {
        Instruction::Run(r) => r,
        o => panic!("{o:?}"),
    };
    assert!(r.heredocs.is_empty());
}

#[test]
fn heredoc_errors() {
    let e = err("FROM a\nRUN <<EOF\necho\n");
    assert_eq!(
        (e.line, e.message.as_str()),
        (2, "unterminated heredoc EOF")
    );
    assert_eq!(
        err("FROM a\nCOPY a <<EOF\nx\nEOF\n").message,
        "COPY cannot accept a heredoc as a destination"
    );
}

#[test]
fn escape_directive_backtick() {
    let f = p("# escape=`\nFROM mcr.microsoft.com/windows AS w\nRUN dir C:\\ `\n  && echo done\nWORKDIR C:\\app\nENV P=C:\\x`$Y\n");
    assert_eq!(f.escape, '`');
    let ins: Vec<_> = f.stages[0]
        .instructions
        .iter()
        .map(|s| s.instruction.clone())
        .collect();
    assert_eq!(
        ins[0],
        Instruction::Run(Run {
            command: Command::Shell("dir C:\\   && echo done".into()),
            mounts: vec![],
            network: None,
            security: None,
            heredocs: vec![],
        })
    );
    assert_eq!(
        ins[1].expand('`', &no_vars).unwrap(),
        Instruction::Workdir("C:\\app".into())
    );
    assert_eq!(
        ins[2].expand('`', &no_vars).unwrap(),
        Instruction::Env(vec![kv("P", "C:\\x$Y")])
    );
}

#[test]
fn errors_name_file_and_line() {
    let e = err("FROM alpine\n\nRUN a \\\n  b\nFOO bar\n");
    assert_eq!(
        e.to_string(),
        "Containerfile:5: unknown instruction: FOO: FOO bar"
    );
    let e = err("# c\nRUN x\nFROM a\n");
    assert_eq!(
        e.to_string(),
        "Containerfile:2: no build stage in current context: RUN x"
    );
    let e = err("FROM a AS 1bad\n");
    assert_eq!(e.line, 1);
    assert!(e.message.starts_with("invalid name for build stage"));
    assert_eq!(
        err("FROM a b\n").message,
        "FROM requires either one or three arguments"
    );
    assert_eq!(
        err("FROM a AS x\nFROM b AS X\n").message,
        "duplicate stage name \"x\""
    );
    assert_eq!(err("").message, "file with no instructions");
    assert_eq!(err("ARG A\n").message, "file with no instructions");
    assert_eq!(
        err("FROM a\nONBUILD ONBUILD RUN x").message,
        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    );
    assert_eq!(
        err("FROM a\nONBUILD FROM x").message,
        "FROM isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        err("FROM a\nONBUILD maintainer x").message,
        "MAINTAINER isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        err("FROM a\nONBUILD BOGUS x").message,
        "unknown instruction: BOGUS"
    );
    assert_eq!(
        err("FROM a\nENV a=b c").message,
        "Syntax error - can't find = in \"c\". Must be of the form: name=value"
    );
    assert_eq!(
        err("FROM a\nENV onlyname").message,
        "ENV must have two arguments"
    );
    assert_eq!(
        err("FROM a\nARG").message,
        "ARG requires at least one argument"
    );
    assert_eq!(
        err("FROM a\nEXPOSE").message,
        "EXPOSE requires at least one argument"
    );
    assert_eq!(
        err("FROM a\nWORKDIR").message,
        "WORKDIR requires exactly one argument"
    );
    assert_eq!(
        err("FROM a\nHEALTHCHECK CMD").message,
        "Missing command after HEALTHCHECK CMD"
    );
    assert_eq!(
        err("FROM a\nHEALTHCHECK NONE x").message,
        "HEALTHCHECK NONE takes no arguments"
    );
    assert!(err("FROM a\nHEALTHCHECK BOGUS x")
        .message
        .starts_with("Unknown type"));
    assert!(err("FROM a\nHEALTHCHECK --interval=5 CMD x")
        .message
        .contains("invalid duration"));
    assert_eq!(
        err("FROM a\nHEALTHCHECK --retries=-1 CMD x").message,
        "--retries cannot be negative"
    );
    assert_eq!(
        err("FROM a\nRUN --bogus=1 x").message,
        "unknown flag: bogus"
    );
    assert_eq!(
        err("FROM a\nRUN").message,
        "RUN requires at least one argument"
    );
    let e = err("# escape=x\nFROM a\n");
    assert_eq!(
        e.to_string(),
        "Containerfile:1: invalid escape token x does not match ` or \\: # escape=x"
    );
    // One line even when a heredoc is involved.
    assert!(!err("FROM a\nRUN <<EOF\n").to_string().contains('\n'));
}

#[test]
fn go_durations() {
    use super::parse::parse_go_duration as d;
    assert_eq!(d("1h2m3s"), Some(Duration::from_secs(3723)));
    assert_eq!(d("1.5s"), Some(Duration::from_millis(1500)));
    assert_eq!(d("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(d("0"), Some(Duration::ZERO));
    for bad in ["", "5", "s", "-1s", "1x", ".s", "1e3s"] {
        assert_eq!(d(bad), None, "{bad}");
    }
}

/// A seeded stand-in for cargo-fuzz that runs in `cargo test`: thousands of
/// mutations of real Containerfiles through every entry point; none may panic.
#[test]
fn mutations_never_panic() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let seeds: Vec<String> = vec![
        GO_APP.to_string(),
        "FROM alpine\nRUN <<EOF\necho hi\nEOF\nCOPY <<-\"x\" <<y /d/\n\tX\n\tx\nY\ny\n".into(),
        "# escape=`\nFROM a AS b\nENV A=1 B=\"2 3\" C='4'\nLABEL a=b\nRUN x `\n y\nONBUILD RUN z\n".into(),
        "ARG V=${X:-y}\nFROM $V\nHEALTHCHECK --interval=1s CMD [\"a\"]\nSHELL [\"sh\",\"-c\"]\nVOLUME [\"/v\"]\n".into(),
    ];
    let alphabet: Vec<char> = "\\`$'\"{}[]:-+?<>#=\n\t \r,aEOF0123456789/*!\u{feff}é"
        .chars()
        .collect();
    let keywords = [
        "FROM ", "RUN ", "COPY ", "ADD ", "ENV ", "<<EOF\n", "EOF\n", "${", "--from=", "ONBUILD ",
        "\\\n",
    ];
    let mut rng = StdRng::seed_from_u64(0x00c0_ac1e);
    let lookup = |n: &str| n.len().is_multiple_of(2).then(|| n.to_lowercase());
    for round in 0..4000 {
        let mut s: Vec<char> = seeds[round % seeds.len()].chars().collect();
        for _ in 0..rng.random_range(1..8) {
            let pos = rng.random_range(0..=s.len());
            match rng.random_range(0..5) {
                0 if !s.is_empty() => {
                    let end = (pos + rng.random_range(1..10)).min(s.len());
                    s.drain(pos.min(end)..end);
                }
                1 => s.insert(pos, alphabet[rng.random_range(0..alphabet.len())]),
                2 => {
                    let k = keywords[rng.random_range(0..keywords.len())];
                    for (i, c) in k.chars().enumerate() {
                        s.insert(pos + i, c);
                    }
                }
                3 if pos < s.len() => s[pos] = alphabet[rng.random_range(0..alphabet.len())],
                _ => {
                    // Duplicate a slice: repeated lines and nested constructs.
                    let end = (pos + rng.random_range(1..40)).min(s.len());
                    let copy: Vec<char> = s[pos..end].to_vec();
                    for (i, c) in copy.into_iter().enumerate() {
                        s.insert(pos + i, c);
                    }
                }
            }
        }
        let text: String = s.into_iter().collect();
        if let Ok(f) = parse(&text, "fuzz") {
            let _ = f.stages_for_target(None, &lookup);
            let _ = f.meta_args(&lookup);
            for stage in &f.stages {
                for step in &stage.instructions {
                    let _ = step.instruction.expand(f.escape, &lookup);
                    if let Instruction::Run(r) = &step.instruction {
                        let _ = r.program();
                    }
                }
            }
        } else if let Err(e) = parse(&text, "fuzz") {
            assert!(!e.to_string().contains('\n'), "{e}");
        }
        for line in text.lines().take(5) {
            let _ = expand(line, &lookup);
            let _ = crate::format::glob::glob_match(line, "some/path.txt");
            if let Ok(m) = crate::build::ignore::Matcher::new(&[line, "!a/**"]) {
                let _ = m.is_excluded("a/b/c.txt", false);
                let _ = m.must_descend("a/b");
            }
        }
    }
}

#[test]
fn doubling_expansion_stops_at_the_word_limit() {
    // ARG a1=x, a2=${a1}${a1}, ...: 2^n bytes at step n.
    let mut values: HashMap<String, String> = HashMap::new();
    values.insert("a0".into(), "x".into());
    let mut failed = None;
    for n in 1..40 {
        let scope = |k: &str| values.get(k).cloned();
        let word = format!("${{a{m}-1}}${{a{m}-1}}", m = n - 1);
        match expand(&word, &scope) {
            Ok(v) => {
                assert!(v.len() <= MAX_EXPANDED_BYTES);
                values.insert(format!("a{n}"), v);
            }
            Err(e) => {
                failed = Some((n, e));
                break;
            }
        }
    }
    let (n, e) = failed.expect("the doubling never stopped");
    assert_eq!(n, 21, "1 MiB is 2^20 bytes");
    assert_eq!(
        e.to_string(),
        "expanding variables gives a word longer than 1 MiB"
    );
    // Inside double quotes and a ${V:-default} word too.
    let big = |_: &str| Some("y".repeat(MAX_EXPANDED_BYTES / 2 + 1));
    assert!(expand("\"$a$a\"", &big).is_err());
    assert!(expand("${unset:-$a$a}", &|n| (n != "unset")
        .then(|| big(n))
        .flatten())
    .is_err());
    assert!(expand("$a", &big).is_ok());
}

#[test]
fn meta_args_are_bounded_together() {
    // 40 ARGs of ~1 MiB each before FROM: over the scope limit.
    let mut src =
        String::from("ARG a0=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
    for n in 1..15 {
        src.push_str(&format!("ARG a{n}=${{a{m}}}${{a{m}}}\n", m = n - 1));
    }
    for n in 15..60 {
        src.push_str(&format!("ARG b{n}=$a14\n"));
    }
    src.push_str("FROM scratch\n");
    let e = p(&src).meta_args(&no_vars).unwrap_err();
    assert_eq!(e.to_string(), "the build arguments exceed 16 MiB together");
}
