//! Table-driven tests of the port-name grammar: names libnetmap accepts,
//! with the request they stand for, and names it rejects, with where and
//! why. Valid names must also print back to a name meaning the same.

use netmap_ring::name::{
    parse_legacy, ConfOption, ExtmemOption, Found, NameError, NameErrorKind, OffsetOption, PipeEnd,
    PipeRole, PortName, RingMode,
};

/// What a row expects.
enum Expect {
    Valid(PortName),
    /// The error at this position with exactly this kind.
    Error(usize, NameErrorKind),
    /// `NameErrorKind::Unexpected` at this position, finding this; the
    /// wording of what was expected is not pinned.
    Unexpected(usize, Found),
}

use Expect::{Error, Unexpected, Valid};

fn nic(ifname: &str) -> PortName {
    PortName::netmap(ifname)
}

fn vale(switch: &str, port: &str) -> PortName {
    PortName::vale(switch, port)
}

/// Builder-style edits of a `PortName` in the table.
trait With: Sized {
    fn with(self, edit: impl FnOnce(&mut Self)) -> Self;
}

impl With for PortName {
    fn with(mut self, edit: impl FnOnce(&mut Self)) -> Self {
        edit(&mut self);
        self
    }
}

fn pipe(role: PipeRole, id: &str) -> Option<PipeEnd> {
    Some(PipeEnd {
        role,
        id: id.to_owned(),
    })
}

fn ch(c: char) -> Found {
    Found::Char(c)
}

fn check(rows: Vec<(&str, Expect)>, parse: fn(&str) -> Result<PortName, NameError>) {
    let mut failures = Vec::new();
    for (text, expect) in &rows {
        let got = parse(text);
        let ok = match (expect, &got) {
            (Valid(want), Ok(name)) => {
                // The canonical form re-parses (with the modern grammar) to
                // the same request.
                let again = name.to_string().parse::<PortName>();
                name == want && again.as_ref() == Ok(name)
            }
            (Error(pos, kind), Err(err)) => err.pos == *pos && err.kind == *kind,
            (Unexpected(pos, found), Err(err)) => {
                err.pos == *pos
                    && matches!(&err.kind, NameErrorKind::Unexpected { found: f, .. } if f == found)
            }
            _ => false,
        };
        if let Err(err) = &got {
            assert!(err.pos <= text.len(), "{text:?}: {err} is past the end");
            assert!(
                err.to_string().starts_with(&format!("at {}: ", err.pos)),
                "{err}"
            );
        }
        if !ok {
            failures.push(format!("{text:?}: got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn libnetmap_names() {
    use PipeRole::{Master, Slave};
    let long_ifname = "a".repeat(63);
    let too_long = format!("netmap:{}", "a".repeat(64));
    let longest = format!("netmap:{long_ifname}");
    let rows: Vec<(&str, Expect)> = vec![
        // Subsystems and ports.
        ("netmap:eth0", Valid(nic("eth0"))),
        ("netmap:0", Valid(nic("0"))),
        ("vale0:1", Valid(vale("0", "1"))),
        ("vale:0", Valid(vale("", "0"))),
        ("valeA_b:port_1", Valid(vale("A_b", "port_1"))),
        (&longest, Valid(nic(&long_ifname))),
        ("", Error(0, NameErrorKind::UnknownSubsystem)),
        ("eth0", Error(0, NameErrorKind::UnknownSubsystem)),
        ("NETMAP:eth0", Error(0, NameErrorKind::UnknownSubsystem)),
        ("netmap", Unexpected(6, Found::End)),
        ("netmapx:eth0", Unexpected(6, ch('x'))),
        ("netmap:", Error(7, NameErrorKind::EmptyPortName)),
        ("netmap:vale0:0", Unexpected(12, ch(':'))),
        ("netmap:eth0.100", Unexpected(11, ch('.'))),
        ("netmap:eth0 ", Unexpected(11, ch(' '))),
        ("netmap:eth\u{e9}", Unexpected(10, ch('\u{e9}'))),
        ("vale0", Unexpected(5, Found::End)),
        ("vale-0:1", Unexpected(4, ch('-'))),
        ("vale0:", Error(6, NameErrorKind::EmptyPortName)),
        ("vale0:a.b", Unexpected(7, ch('.'))),
        (
            &too_long,
            Error(70, NameErrorKind::NameTooLong { len: 64, max: 63 }),
        ),
        // Pipes.
        (
            "vale0:1{p",
            Valid(vale("0", "1").with(|n| n.pipe = pipe(Master, "p"))),
        ),
        (
            "vale0:1}p",
            Valid(vale("0", "1").with(|n| n.pipe = pipe(Slave, "p"))),
        ),
        (
            "netmap:eth0{pipe_1-2",
            Valid(nic("eth0").with(|n| {
                n.pipe = pipe(Master, "pipe_1");
                n.mode = RingMode::OneNic(2);
            })),
        ),
        (
            "netmap:eth0}x^",
            Valid(nic("eth0").with(|n| {
                n.pipe = pipe(Slave, "x");
                n.mode = RingMode::Sw;
            })),
        ),
        ("netmap:eth0{", Error(12, NameErrorKind::EmptyPipeId)),
        ("netmap:eth0{/x", Error(12, NameErrorKind::EmptyPipeId)),
        ("netmap:eth0{a{b", Unexpected(13, ch('{'))),
        ("netmap:{a", Error(7, NameErrorKind::EmptyPortName)),
        // Ring modes.
        (
            "netmap:eth0^",
            Valid(nic("eth0").with(|n| n.mode = RingMode::Sw)),
        ),
        (
            "netmap:eth0^3",
            Valid(nic("eth0").with(|n| n.mode = RingMode::OneSw(3))),
        ),
        (
            "netmap:eth0*",
            Valid(nic("eth0").with(|n| n.mode = RingMode::NicSw)),
        ),
        (
            "netmap:eth0-0",
            Valid(nic("eth0").with(|n| n.mode = RingMode::OneNic(0))),
        ),
        (
            "netmap:eth0-4094",
            Valid(nic("eth0").with(|n| n.mode = RingMode::OneNic(4094))),
        ),
        (
            "netmap:eth0-007",
            Valid(nic("eth0").with(|n| n.mode = RingMode::OneNic(7))),
        ),
        ("netmap:eth0-", Unexpected(12, Found::End)),
        ("netmap:eth0-x", Unexpected(12, ch('x'))),
        ("netmap:eth0-4095", Error(12, NameErrorKind::RingOutOfRange)),
        (
            "netmap:eth0-99999999999999999999999",
            Error(12, NameErrorKind::RingOutOfRange),
        ),
        ("netmap:eth0^4095", Error(12, NameErrorKind::RingOutOfRange)),
        ("netmap:eth0^x", Unexpected(12, ch('x'))),
        ("netmap:eth0*1", Unexpected(12, ch('1'))),
        ("netmap:eth0-1-2", Unexpected(13, ch('-'))),
        ("netmap:eth0-1^", Unexpected(13, ch('^'))),
        ("netmap:eth0^*", Unexpected(12, ch('*'))),
        // Flags.
        (
            "netmap:eth0/x",
            Valid(nic("eth0").with(|n| n.flags.exclusive = true)),
        ),
        (
            "netmap:eth0/xztrRT",
            Valid(nic("eth0").with(|n| {
                let f = &mut n.flags;
                (f.exclusive, f.zero_copy_monitor, f.monitor_tx) = (true, true, true);
                (f.monitor_rx, f.rx_rings_only, f.tx_rings_only) = (true, true, true);
            })),
        ),
        (
            "netmap:eth0/xx",
            Valid(nic("eth0").with(|n| n.flags.exclusive = true)),
        ),
        ("netmap:eth0/", Unexpected(12, Found::End)),
        ("netmap:eth0/q", Unexpected(12, ch('q'))),
        ("netmap:eth0/x/z", Unexpected(13, ch('/'))),
        ("netmap:eth0/x^", Unexpected(13, ch('^'))),
        // Memory ids.
        (
            "netmap:eth0@2",
            Valid(nic("eth0").with(|n| n.mem_id = Some(2))),
        ),
        (
            "netmap:eth0@65535",
            Valid(nic("eth0").with(|n| n.mem_id = Some(65535))),
        ),
        (
            "netmap:eth0/R@2",
            Valid(nic("eth0").with(|n| {
                n.flags.rx_rings_only = true;
                n.mem_id = Some(2);
            })),
        ),
        (
            "netmap:eth0@2/R",
            Valid(nic("eth0").with(|n| {
                n.flags.rx_rings_only = true;
                n.mem_id = Some(2);
            })),
        ),
        (
            "netmap:eth0@2/R@2",
            Valid(nic("eth0").with(|n| {
                n.flags.rx_rings_only = true;
                n.mem_id = Some(2);
            })),
        ),
        (
            "netmap:eth0-1/T@3",
            Valid(nic("eth0").with(|n| {
                n.mode = RingMode::OneNic(1);
                n.flags.tx_rings_only = true;
                n.mem_id = Some(3);
            })),
        ),
        (
            "netmap:eth0^@4",
            Valid(nic("eth0").with(|n| {
                n.mode = RingMode::Sw;
                n.mem_id = Some(4);
            })),
        ),
        (
            "netmap:eth0/@2",
            Valid(nic("eth0").with(|n| n.mem_id = Some(2))),
        ),
        ("netmap:eth0@", Unexpected(12, Found::End)),
        ("netmap:eth0@2@", Unexpected(14, Found::End)),
        ("netmap:eth0@0", Error(12, NameErrorKind::MemIdOutOfRange)),
        (
            "netmap:eth0@65536",
            Error(12, NameErrorKind::MemIdOutOfRange),
        ),
        (
            "netmap:eth0@2/R@3",
            Error(
                15,
                NameErrorKind::MemIdDisagrees {
                    first: 2,
                    second: 3,
                },
            ),
        ),
        (
            "netmap:eth0@2@3",
            Error(
                13,
                NameErrorKind::MemIdDisagrees {
                    first: 2,
                    second: 3,
                },
            ),
        ),
        ("netmap:eth0@2^", Unexpected(13, ch('^'))),
        // @conf.
        (
            "netmap:eth0@conf:rings=2",
            Valid(nic("eth0").with(|n| n.options.conf.rings = Some(2))),
        ),
        (
            "netmap:eth0@conf:tx-rings=2,rx_rings=3",
            Valid(nic("eth0").with(|n| {
                n.options.conf.tx_rings = Some(2);
                n.options.conf.rx_rings = Some(3);
            })),
        ),
        (
            "netmap:eth0@conf:host-rings=1,host_tx_rings=2",
            Valid(nic("eth0").with(|n| {
                n.options.conf.host_rings = Some(1);
                n.options.conf.host_tx_rings = Some(2);
            })),
        ),
        (
            "netmap:eth0@conf:tx-slots=512,slots=1024",
            Valid(nic("eth0").with(|n| {
                n.options.conf.slots = Some(1024);
                n.options.conf.tx_slots = Some(512);
            })),
        ),
        ("netmap:eth0@conf:", Valid(nic("eth0"))),
        (
            "netmap:eth0@conf:rings=2@conf:slots=4",
            Valid(nic("eth0").with(|n| {
                n.options.conf.rings = Some(2);
                n.options.conf.slots = Some(4);
            })),
        ),
        (
            "netmap:eth0@conf:rings=2@conf:rings=3",
            Valid(nic("eth0").with(|n| n.options.conf.rings = Some(3))),
        ),
        (
            "netmap:eth0@conf:rings=65535,slots=4294967295",
            Valid(nic("eth0").with(|n| {
                n.options.conf.rings = Some(65535);
                n.options.conf.slots = Some(u32::MAX);
            })),
        ),
        (
            "netmap:eth0@2@conf:rings=1",
            Valid(nic("eth0").with(|n| {
                n.mem_id = Some(2);
                n.options.conf.rings = Some(1);
            })),
        ),
        (
            "netmap:eth0/x@conf:rings=1",
            Valid(nic("eth0").with(|n| {
                n.flags.exclusive = true;
                n.options.conf.rings = Some(1);
            })),
        ),
        (
            "netmap:eth0@conf:rings=2@",
            Error(25, NameErrorKind::EmptyOption),
        ),
        (
            "netmap:eth0@@conf:rings=1",
            Error(12, NameErrorKind::EmptyOption),
        ),
        (
            "netmap:eth0@foo=1",
            Error(12, NameErrorKind::UnknownOption("foo".into())),
        ),
        (
            "netmap:eth0@conf:rings=1@2",
            Error(25, NameErrorKind::UnknownOption("2".into())),
        ),
        (
            "netmap:eth0@conf",
            Error(16, NameErrorKind::OptionWithoutBody("conf")),
        ),
        (
            "netmap:eth0@conf=2",
            Error(16, NameErrorKind::NoDefaultKey("conf")),
        ),
        (
            "netmap:eth0@conf:ring=2",
            Error(
                17,
                NameErrorKind::UnknownKey {
                    option: "conf",
                    key: "ring".into(),
                },
            ),
        ),
        (
            "netmap:eth0@conf:rings=2,rings=3",
            Error(
                25,
                NameErrorKind::DuplicateKey {
                    option: "conf",
                    key: "rings",
                },
            ),
        ),
        (
            "netmap:eth0@conf:tx_rings=1,tx-rings=1",
            Error(
                28,
                NameErrorKind::DuplicateKey {
                    option: "conf",
                    key: "tx-rings",
                },
            ),
        ),
        (
            "netmap:eth0@conf:rings",
            Error(
                22,
                NameErrorKind::MissingValue {
                    option: "conf",
                    key: "rings",
                },
            ),
        ),
        (
            "netmap:eth0@conf:rings=",
            Error(
                23,
                NameErrorKind::MissingValue {
                    option: "conf",
                    key: "rings",
                },
            ),
        ),
        (
            "netmap:eth0@conf:rings,slots=1",
            Error(
                22,
                NameErrorKind::MissingValue {
                    option: "conf",
                    key: "rings",
                },
            ),
        ),
        (
            "netmap:eth0@conf:rings=2,",
            Error(25, NameErrorKind::EmptyKey("conf")),
        ),
        (
            "netmap:eth0@conf:,rings=2",
            Error(17, NameErrorKind::EmptyKey("conf")),
        ),
        (
            "netmap:eth0@conf:rings=x",
            Error(
                23,
                NameErrorKind::BadNumber {
                    option: "conf",
                    key: "rings",
                    max: 65535,
                },
            ),
        ),
        (
            "netmap:eth0@conf:rings=65536",
            Error(
                23,
                NameErrorKind::BadNumber {
                    option: "conf",
                    key: "rings",
                    max: 65535,
                },
            ),
        ),
        (
            "netmap:eth0@conf:rings=2/x",
            Error(
                24,
                NameErrorKind::BadNumber {
                    option: "conf",
                    key: "rings",
                    max: 65535,
                },
            ),
        ),
        (
            "netmap:eth0@conf:slots=4294967296",
            Error(
                23,
                NameErrorKind::BadNumber {
                    option: "conf",
                    key: "slots",
                    max: u32::MAX.into(),
                },
            ),
        ),
        // @share.
        (
            "netmap:eth0@share=vale0:1",
            Valid(nic("eth0").with(|n| n.options.share = Some("vale0:1".into()))),
        ),
        (
            "netmap:eth0@share:port=netmap:eth1",
            Valid(nic("eth0").with(|n| n.options.share = Some("netmap:eth1".into()))),
        ),
        (
            "vale0:p@share=netmap:eth0{p",
            Valid(vale("0", "p").with(|n| n.options.share = Some("netmap:eth0{p".into()))),
        ),
        (
            "netmap:eth0@share=vale0:1@share=vale0:1",
            Valid(nic("eth0").with(|n| n.options.share = Some("vale0:1".into()))),
        ),
        (
            "netmap:eth0@share",
            Error(17, NameErrorKind::OptionWithoutBody("share")),
        ),
        (
            "netmap:eth0@share=",
            Error(
                18,
                NameErrorKind::MissingValue {
                    option: "share",
                    key: "port",
                },
            ),
        ),
        (
            "netmap:eth0@share=eth1",
            Error(18, NameErrorKind::UnknownSubsystem),
        ),
        ("netmap:eth0@share=vale0:1^", Unexpected(25, ch('^'))),
        (
            "netmap:eth0@share=vale0:1@share=vale0:2",
            Error(
                26,
                NameErrorKind::ShareDisagrees {
                    first: "vale0:1".into(),
                    second: "vale0:2".into(),
                },
            ),
        ),
        (
            "netmap:eth0@share:file=x",
            Error(
                18,
                NameErrorKind::UnknownKey {
                    option: "share",
                    key: "file".into(),
                },
            ),
        ),
        // @extmem.
        (
            "netmap:eth0@extmem=/tmp/mem",
            Valid(nic("eth0").with(|n| n.options.extmem = Some(ExtmemOption::file("/tmp/mem")))),
        ),
        (
            "netmap:eth0@extmem:file=/tmp/mem,if-num=10,buf_size=2048",
            Valid(nic("eth0").with(|n| {
                n.options.extmem = Some(ExtmemOption {
                    if_num: Some(10),
                    buf_size: Some(2048),
                    ..ExtmemOption::file("/tmp/mem")
                })
            })),
        ),
        (
            "vale0:1@extmem=/a:b=c",
            Valid(vale("0", "1").with(|n| n.options.extmem = Some(ExtmemOption::file("/a:b=c")))),
        ),
        (
            "netmap:eth0@extmem=/tmp/a,b",
            Valid(nic("eth0").with(|n| n.options.extmem = Some(ExtmemOption::file("/tmp/a,b")))),
        ),
        (
            "netmap:eth0@extmem:if-num=2",
            Error(
                12,
                NameErrorKind::MissingKey {
                    option: "extmem",
                    key: "file",
                },
            ),
        ),
        (
            "netmap:eth0@extmem=/a@extmem=/b",
            Error(22, NameErrorKind::DuplicateOption("extmem")),
        ),
        (
            "netmap:eth0@extmem:file=/a,buf-num=-1",
            Error(
                35,
                NameErrorKind::BadNumber {
                    option: "extmem",
                    key: "buf-num",
                    max: u32::MAX.into(),
                },
            ),
        ),
        // @offset.
        (
            "netmap:eth0@offset=64",
            Valid(nic("eth0").with(|n| {
                n.options.offset = Some(OffsetOption {
                    initial: 64,
                    bits: None,
                })
            })),
        ),
        (
            "netmap:eth0@offset:bits=10,initial=0",
            Valid(nic("eth0").with(|n| {
                n.options.offset = Some(OffsetOption {
                    initial: 0,
                    bits: Some(10),
                })
            })),
        ),
        (
            "netmap:eth0@offset:bits=2",
            Error(
                12,
                NameErrorKind::MissingKey {
                    option: "offset",
                    key: "initial",
                },
            ),
        ),
        (
            "netmap:eth0@offset=1@offset=2",
            Error(21, NameErrorKind::DuplicateOption("offset")),
        ),
        (
            "netmap:eth0@offset=x",
            Error(
                19,
                NameErrorKind::BadNumber {
                    option: "offset",
                    key: "initial",
                    max: u64::MAX,
                },
            ),
        ),
        // Everything at once.
        (
            "vale1:p}q^2/zt@7@conf:rings=2@share=vale1:r@offset=8",
            Valid(vale("1", "p").with(|n| {
                n.pipe = pipe(Slave, "q");
                n.mode = RingMode::OneSw(2);
                n.flags.zero_copy_monitor = true;
                n.flags.monitor_tx = true;
                n.mem_id = Some(7);
                n.options.conf.rings = Some(2);
                n.options.share = Some("vale1:r".into());
                n.options.offset = Some(OffsetOption {
                    initial: 8,
                    bits: None,
                });
            })),
        ),
    ];
    assert!(rows.len() >= 80, "{} rows", rows.len());
    check(rows, |text| text.parse());
}

#[test]
fn legacy_names() {
    let rows: Vec<(&str, Expect)> = vec![
        ("netmap:eth0", Valid(nic("eth0"))),
        ("vale0:1", Valid(vale("0", "1"))),
        (
            "netmap:eth0^",
            Valid(nic("eth0").with(|n| n.mode = RingMode::Sw)),
        ),
        (
            "netmap:eth0*@3",
            Valid(nic("eth0").with(|n| {
                n.mode = RingMode::NicSw;
                n.mem_id = Some(3);
            })),
        ),
        (
            "netmap:eth0{3",
            Valid(nic("eth0").with(|n| n.pipe = pipe(PipeRole::Master, "3"))),
        ),
        (
            "netmap:eth0}03",
            Valid(nic("eth0").with(|n| n.pipe = pipe(PipeRole::Slave, "3"))),
        ),
        (
            "netmap:eth0{/T",
            Valid(nic("eth0").with(|n| {
                n.pipe = pipe(PipeRole::Master, "0");
                n.flags.tx_rings_only = true;
            })),
        ),
        (
            "netmap:eth0-/x",
            Valid(nic("eth0").with(|n| {
                n.mode = RingMode::OneNic(0);
                n.flags.exclusive = true;
            })),
        ),
        (
            "netmap:eth0@2/x",
            Valid(nic("eth0").with(|n| {
                n.mem_id = Some(2);
                n.flags.exclusive = true;
            })),
        ),
        (
            "vale0:1@vale0:2",
            Valid(vale("0", "1").with(|n| n.options.share = Some("vale0:2".into()))),
        ),
        (
            "netmap:eth0@/dev/shm/x",
            Valid(nic("eth0").with(|n| n.options.extmem = Some(ExtmemOption::file("/dev/shm/x")))),
        ),
        (
            "netmap:eth0@conf:rings=2",
            Valid(nic("eth0").with(|n| {
                n.options.extmem = Some(ExtmemOption::file("conf:rings=2"));
            })),
        ),
        ("netmap:eth0^1", Unexpected(12, ch('1'))),
        ("netmap:eth0@2@2", Error(13, NameErrorKind::SecondMemId)),
        ("netmap:eth0-", Unexpected(12, Found::End)),
        ("netmap:eth0{1-2", Unexpected(13, ch('-'))),
        ("netmap:eth0-4095", Error(12, NameErrorKind::RingOutOfRange)),
        ("netmap:a:b", Unexpected(8, ch(':'))),
        ("vale0:a.b", Unexpected(7, ch('.'))),
        ("netmap:", Error(7, NameErrorKind::EmptyPortName)),
        ("eth0", Error(0, NameErrorKind::UnknownSubsystem)),
        (
            "netmap:abcdefghijklmnop",
            Error(22, NameErrorKind::NameTooLong { len: 16, max: 15 }),
        ),
        ("netmap:eth0@0", Error(12, NameErrorKind::MemIdOutOfRange)),
        // 18 bytes; byte 22 is inside the eighth 'é', which starts at 21.
        (
            "netmap:\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
            Error(21, NameErrorKind::NameTooLong { len: 18, max: 15 }),
        ),
    ];
    check(rows, parse_legacy);
}

#[test]
fn legacy_names_outside_the_modern_grammar_keep_their_interface() {
    let name = parse_legacy("netmap:eth0.100-2").unwrap();
    assert_eq!(name, nic("eth0.100").with(|n| n.mode = RingMode::OneNic(2)));
    // libnetmap has no spelling for it: its canonical text is rejected.
    let err = name.to_string().parse::<PortName>().unwrap_err();
    assert_eq!(err.pos, "netmap:eth0".len());
}

#[test]
fn conf_resolution_prefers_the_specific_key_in_any_order() {
    for text in [
        "vale0:1@conf:rings=4,tx-rings=2,host-rings=3,host-rx-rings=1,slots=64,rx-slots=32",
        "vale0:1@conf:rx-slots=32,host-rx-rings=1,tx-rings=2,slots=64,host-rings=3,rings=4",
    ] {
        let conf = text.parse::<PortName>().unwrap().options.conf;
        assert_eq!(
            (conf.tx_rings(), conf.rx_rings()),
            (Some(2), Some(4)),
            "{text}"
        );
        assert_eq!(
            (conf.host_tx_rings(), conf.host_rx_rings()),
            (Some(3), Some(1))
        );
        assert_eq!((conf.tx_slots(), conf.rx_slots()), (Some(64), Some(32)));
    }
    let nothing = ConfOption::default();
    assert_eq!((nothing.tx_rings(), nothing.rx_slots()), (None, None));
}

#[test]
fn request_fields_follow_netmap_h() {
    let name: PortName = "vale0:1}p-5/xR@9".parse().unwrap();
    assert_eq!(name.nr_name(), "vale0:1}p");
    assert_eq!(name.subsystem.switch_name().as_deref(), Some("vale0"));
    assert_eq!(name.subsystem.parent_name(), "vale0:1");
    assert_eq!((name.mode.nr_reg(), name.mode.ring_id()), (4, 5));
    assert_eq!(name.flags.nr_flags(), 0x800 | 0x2000);
    let modes = [
        ("netmap:eth0", 1, 0),
        ("netmap:eth0^", 2, 0),
        ("netmap:eth0*", 3, 0),
        ("netmap:eth0-7", 4, 7),
        ("netmap:eth0^7", 8, 7),
    ];
    for (text, nr_reg, ring_id) in modes {
        let mode = text.parse::<PortName>().unwrap().mode;
        assert_eq!((mode.nr_reg(), mode.ring_id()), (nr_reg, ring_id), "{text}");
    }
    let flags = [
        ("t", 0x100),
        ("r", 0x200),
        ("z", 0x400),
        ("x", 0x800),
        ("R", 0x2000),
        ("T", 0x4000),
    ];
    for (letter, bit) in flags {
        let name: PortName = format!("netmap:eth0/{letter}").parse().unwrap();
        assert_eq!(name.flags.nr_flags(), bit, "{letter}");
    }
    let nic: PortName = "netmap:eth0{a".parse().unwrap();
    assert_eq!(
        (nic.nr_name(), nic.subsystem.switch_name()),
        ("eth0{a".into(), None)
    );
}
