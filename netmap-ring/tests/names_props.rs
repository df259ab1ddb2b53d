//! Property tests of the port-name grammar: every request prints to a name
//! that parses back to it, and no input, however mangled, makes the parsers
//! panic or report a position outside the input.

use netmap_ring::name::{
    parse_legacy, ConfOption, ExtmemOption, NameError, OffsetOption, PipeEnd, PipeRole, PortName,
    PortOptions, RegFlags, RingMode, Subsystem, MAX_LEGACY_NAME_LEN, MAX_RING_ID,
};
use proptest::option::of;
use proptest::prelude::*;

fn ident(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Za-z0-9_]{{1,{max}}}")).unwrap()
}

fn subsystem() -> impl Strategy<Value = Subsystem> {
    prop_oneof![
        ident(12).prop_map(|ifname| Subsystem::Netmap { ifname }),
        ("[A-Za-z0-9_]{0,6}", ident(8)).prop_map(|(switch, port)| Subsystem::Vale { switch, port }),
    ]
}

fn pipe() -> impl Strategy<Value = Option<PipeEnd>> {
    of((any::<bool>(), ident(8)).prop_map(|(master, id)| PipeEnd {
        role: if master {
            PipeRole::Master
        } else {
            PipeRole::Slave
        },
        id,
    }))
}

fn mode() -> impl Strategy<Value = RingMode> {
    prop_oneof![
        Just(RingMode::AllNic),
        Just(RingMode::Sw),
        (0..=MAX_RING_ID).prop_map(RingMode::OneSw),
        Just(RingMode::NicSw),
        (0..=MAX_RING_ID).prop_map(RingMode::OneNic),
    ]
}

fn flags() -> impl Strategy<Value = RegFlags> {
    any::<[bool; 6]>().prop_map(|[x, z, t, r, big_r, big_t]| RegFlags {
        exclusive: x,
        zero_copy_monitor: z,
        monitor_tx: t,
        monitor_rx: r,
        rx_rings_only: big_r,
        tx_rings_only: big_t,
    })
}

fn conf() -> impl Strategy<Value = ConfOption> {
    (
        [of(any::<u16>()), of(any::<u16>()), of(any::<u16>())],
        [of(any::<u16>()), of(any::<u16>()), of(any::<u16>())],
        [of(any::<u32>()), of(any::<u32>()), of(any::<u32>())],
    )
        .prop_map(|(rings, more_rings, slots)| ConfOption {
            rings: rings[0],
            host_rings: rings[1],
            tx_rings: rings[2],
            rx_rings: more_rings[0],
            host_tx_rings: more_rings[1],
            host_rx_rings: more_rings[2],
            slots: slots[0],
            tx_slots: slots[1],
            rx_slots: slots[2],
        })
}

fn extmem() -> impl Strategy<Value = ExtmemOption> {
    // Any file name without ',' and '@', which end a value.
    let file = "[A-Za-z0-9_./:=~+-]{1,24}";
    (file, std::array::from_fn::<_, 6, _>(|_| of(any::<u32>()))).prop_map(|(file, pools)| {
        ExtmemOption {
            file,
            if_num: pools[0],
            if_size: pools[1],
            ring_num: pools[2],
            ring_size: pools[3],
            buf_num: pools[4],
            buf_size: pools[5],
        }
    })
}

fn share() -> impl Strategy<Value = String> {
    (subsystem(), pipe()).prop_map(|(subsystem, pipe)| {
        let mut port = PortName::netmap("x");
        port.subsystem = subsystem;
        port.pipe = pipe;
        port.to_string()
    })
}

fn options() -> impl Strategy<Value = PortOptions> {
    (
        conf(),
        of(share()),
        of(extmem()),
        of((any::<u64>(), of(any::<u32>()))),
    )
        .prop_map(|(conf, share, extmem, offset)| PortOptions {
            conf,
            share,
            extmem,
            offset: offset.map(|(initial, bits)| OffsetOption { initial, bits }),
        })
}

fn port_name() -> impl Strategy<Value = PortName> {
    (
        subsystem(),
        mode(),
        pipe(),
        flags(),
        of(1..=u16::MAX),
        options(),
    )
        .prop_map(|(subsystem, mode, pipe, flags, mem_id, options)| PortName {
            subsystem,
            mode,
            pipe,
            flags,
            mem_id,
            options,
        })
}

/// Characters the grammar gives a meaning to, and some it does not.
const GRAMMAR_CHARS: &[char] = &[
    'n', 'e', 't', 'm', 'a', 'p', 'v', 'l', '0', '1', '9', ':', '{', '}', '^', '*', '-', '/', '@',
    'x', 'z', 'r', 'R', 'T', '=', ',', '_', '.', ' ', '\0', 'é', '€', '🦀',
];

fn grammar_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => proptest::sample::select(GRAMMAR_CHARS),
        1 => any::<char>(),
    ]
}

#[derive(Clone, Debug)]
enum Mutation {
    Insert(usize, char),
    Remove(usize),
    Replace(usize, char),
    Repeat(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), grammar_char()).prop_map(|(at, c)| Mutation::Insert(at, c)),
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), grammar_char()).prop_map(|(at, c)| Mutation::Replace(at, c)),
        (any::<usize>(), 1..8usize).prop_map(|(at, len)| Mutation::Repeat(at, len)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for mutation in mutations {
        let len = chars.len();
        let at = |i: usize| if len == 0 { 0 } else { i % len };
        match *mutation {
            Mutation::Insert(i, c) => chars.insert(i % (len + 1), c),
            Mutation::Remove(i) if len > 0 => {
                chars.remove(at(i));
            }
            Mutation::Replace(i, c) if len > 0 => chars[at(i)] = c,
            Mutation::Repeat(i, n) if len > 0 => {
                let start = at(i);
                let end = (start + n).min(len);
                let copy: Vec<char> = chars[start..end].to_vec();
                chars.splice(end..end, copy);
            }
            Mutation::Truncate(i) => chars.truncate(i % (len + 1)),
            _ => {}
        }
    }
    chars.into_iter().collect()
}

/// Whatever the input, both parsers return; an error points inside the
/// input at a character boundary; a success prints to a name that parses
/// to the same request (unless it came from the legacy grammar, whose NIC
/// names may have no modern spelling).
fn check_any_input(text: &str) -> Result<(), TestCaseError> {
    let modern = text.parse::<PortName>();
    let legacy = parse_legacy(text);
    for result in [&modern, &legacy] {
        if let Err(NameError { pos, .. }) = result {
            prop_assert!(*pos <= text.len(), "{text:?}: {pos}");
            prop_assert!(text.is_char_boundary(*pos), "{text:?}: {pos}");
        }
    }
    if let Ok(name) = &modern {
        let again = name.to_string().parse::<PortName>();
        prop_assert_eq!(again.as_ref(), Ok(name), "{:?}", text);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn canonical_text_parses_back_to_the_request(name in port_name()) {
        let text = name.to_string();
        prop_assert_eq!(text.parse::<PortName>(), Ok(name), "{}", text);
    }
}

/// Requests both grammars can spell the same way: no pipe, no `^N`, no
/// options, and a name short enough for the legacy `nmreq`.
fn common_name() -> impl Strategy<Value = PortName> {
    let mode = prop_oneof![
        Just(RingMode::AllNic),
        Just(RingMode::Sw),
        Just(RingMode::NicSw),
        (0..=MAX_RING_ID).prop_map(RingMode::OneNic),
    ];
    (subsystem(), mode, flags(), of(1..=u16::MAX))
        .prop_filter("fits IFNAMSIZ", |(subsystem, ..)| {
            subsystem.parent_name().len() <= MAX_LEGACY_NAME_LEN
        })
        .prop_map(|(subsystem, mode, flags, mem_id)| {
            let mut name = PortName::netmap("x");
            (name.subsystem, name.mode, name.flags, name.mem_id) = (subsystem, mode, flags, mem_id);
            name
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn both_grammars_agree_where_they_overlap(name in common_name()) {
        let text = name.to_string();
        prop_assert_eq!(parse_legacy(&text), Ok(name), "{}", text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4_000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_names_never_panic(
        name in port_name(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        check_any_input(&mutate(&name.to_string(), &mutations))?;
    }

    #[test]
    fn strings_of_grammar_characters_never_panic(
        chars in proptest::collection::vec(grammar_char(), 0..64),
    ) {
        let text: String = chars.into_iter().collect();
        check_any_input(&text)?;
        check_any_input(&format!("netmap:{text}"))?;
        check_any_input(&format!("vale{text}"))?;
    }

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        check_any_input(&text)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn very_long_names_never_panic(
        unit in proptest::collection::vec(grammar_char(), 1..8),
        repeat in 1_000..20_000usize,
    ) {
        let unit: String = unit.into_iter().collect();
        for prefix in ["netmap:", "vale0:a", "netmap:eth0@conf:", "netmap:eth0-", ""] {
            check_any_input(&format!("{prefix}{}", unit.repeat(repeat)))?;
        }
    }
}
