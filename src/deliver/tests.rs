use super::*;

fn run(offset: u64, len: u64) -> ByteRun {
    ByteRun { offset, len }
}

/// At most `max_reads` reads that merge only when the budget forces them
/// (a free round trip: no gap is worth reading).
fn separate(max_reads: usize) -> plan::ReadLimits {
    plan::ReadLimits {
        max_reads,
        cost: plan::ReadCost {
            rtt_ms: 0,
            ..Default::default()
        },
    }
}

/// A reader that hands out at most `step` bytes per call, like a network
/// body arriving in small pieces.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn object() -> Vec<u8> {
    (0..10_000u32).map(|i| (i % 251) as u8).collect()
}

/// What a segment of `header` + `runs` is, byte for byte.
fn expected(header: &[u8], runs: &[ByteRun], obj: &[u8]) -> Vec<u8> {
    let mut v = header.to_vec();
    for r in runs {
        v.extend_from_slice(&obj[r.offset as usize..r.end() as usize]);
    }
    v
}

/// Delivers a planned body the way a streaming adapter does: each read's
/// body arriving `step` bytes at a time, through [`write_body`].
fn deliver(b: &SegmentBody, obj: &[u8], step: usize) -> io::Result<Vec<u8>> {
    let sources: Vec<Source<Trickle>> = b
        .reads
        .iter()
        .map(|read| {
            Source::Body(Trickle {
                data: &obj[read.offset as usize..read.end() as usize],
                step,
            })
        })
        .collect();
    let mut out = Vec::new();
    if write_body(b, sources, &mut out, None) {
        Ok(out)
    } else {
        Err(io::Error::other("body broke"))
    }
}

#[test]
fn every_range_of_a_segment_is_delivered_exactly() {
    let obj = object();
    let header = Bytes::from_static(b"moof-and-mdat-header");
    let runs = vec![
        run(100, 50),
        run(160, 40),
        run(3000, 500),
        run(3500, 10),
        run(9000, 7),
    ];
    let whole = expected(&header, &runs, &obj);
    let len = whole.len() as u64;
    for (a, b) in [
        (0, len),
        (0, 5),
        (3, 25),
        (20, 21),
        (25, 400),
        (100, len),
        (len - 1, len),
    ] {
        for limits in [1, 2, 30]
            .into_iter()
            .flat_map(|n| [separate(n), plan::ReadLimits::reads(n)])
        {
            let max_reads = limits.max_reads;
            let plan = SegmentBody::plan(&header, &runs, "a.mp4", "\"e\"", (a, b), limits);
            assert!(plan.in_order);
            assert!(plan.reads.len() <= max_reads.max(1));
            for step in [1, 7, 64 * 1024] {
                let got = deliver(&plan, &obj, step).unwrap();
                assert_eq!(
                    got,
                    &whole[a as usize..b as usize],
                    "{a}..{b} reads {max_reads} step {step}"
                );
            }
            assert!(plan
                .requests
                .iter()
                .all(|r| r.if_match.as_deref() == Some("\"e\"") && r.path == "a.mp4"));
        }
    }
}

#[test]
fn a_read_that_is_one_run_is_passed_whole() {
    let header = Bytes::from_static(b"h");
    let plan = SegmentBody::plan(
        &header,
        &[run(10, 5), run(5000, 5)],
        "a",
        "",
        (0, 11),
        separate(30),
    );
    assert_eq!(plan.reads, vec![run(10, 5), run(5000, 5)]);
    assert_eq!(plan.use_of(0), ReadUse::Whole);
    assert!(plan.requests.iter().all(|r| r.if_match.is_none()));
    let merged = SegmentBody::plan(
        &header,
        &[run(10, 5), run(20, 5)],
        "a",
        "",
        (0, 11),
        separate(1),
    );
    assert_eq!(merged.reads, vec![run(10, 15)]);
    assert_eq!(
        merged.use_of(0),
        ReadUse::Runs(vec![run(10, 5), run(20, 5)])
    );
}

#[test]
fn runs_out_of_file_order_are_assembled_from_memory() {
    let obj = object();
    let header = Bytes::from_static(b"hdr");
    let runs = vec![run(500, 20), run(100, 30), run(700, 5)];
    let plan = SegmentBody::plan(&header, &runs, "a", "", (0, 58), separate(30));
    assert!(!plan.in_order);
    let reads: Vec<Bytes> = plan
        .reads
        .iter()
        .map(|r| Bytes::copy_from_slice(&obj[r.offset as usize..r.end() as usize]))
        .collect();
    let body: Vec<u8> = plan.assemble(reads).unwrap().concat();
    assert_eq!(body, expected(&header, &runs, &obj));
}

#[test]
fn a_splice_passes_whole_runs_and_bytes_are_sliced() {
    let obj = object();
    let header = Bytes::from_static(b"hdr");
    let runs = vec![run(100, 50), run(5000, 20), run(5030, 10)];
    // Gaps of up to 10 bytes are worth reading: 1 ms at 10 kB/s.
    let cost = plan::ReadCost {
        rtt_ms: 1,
        bandwidth: 10_000,
    };
    let limits = plan::ReadLimits {
        max_reads: 30,
        cost,
    };
    let plan = SegmentBody::plan(&header, &runs, "a", "", (0, 83), limits);
    assert_eq!(plan.use_of(0), ReadUse::Whole);
    // Read 0 arrives as a body (spliced: here, copied by the closure);
    // read 1 (two runs) was taken into memory.
    let sources: Vec<Source<&[u8]>> = vec![
        Source::Body(&obj[100..150]),
        Source::Bytes(Bytes::copy_from_slice(&obj[5000..5040])),
    ];
    assert_eq!(plan.reads, vec![run(100, 50), run(5000, 40)]);
    let mut out = Vec::new();
    let splice: fn(&[u8], &mut Vec<u8>) = |b, out| out.extend_from_slice(b);
    assert!(write_body(&plan, sources, &mut out, Some(splice)));
    assert_eq!(out, expected(&header, &runs, &obj));
    // A body shorter than its run breaks the delivery.
    let short: Vec<Source<&[u8]>> = vec![
        Source::Body(&obj[100..120]),
        Source::Bytes(Bytes::copy_from_slice(&obj[5000..5040])),
    ];
    assert!(!write_body(&plan, short, &mut Vec::new(), None));
}

#[test]
fn a_short_origin_body_is_an_error_not_a_shorter_segment() {
    let obj = object();
    let mut out = Vec::new();
    let short = Trickle {
        data: &obj[..40],
        step: 16,
    };
    let err = copy_runs(short, run(0, 100), &[run(0, 10), run(50, 50)], &mut out).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    let err = copy_exact(&obj[..40], 100, &mut Vec::new()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn slicing_keeps_header_and_runs_in_order() {
    let header = Bytes::from_static(b"0123456789");
    let runs = [run(100, 10), run(200, 10)];
    let (h, r) = slice_parts(&header, &runs, 5, 25);
    assert_eq!(&h[..], b"56789");
    assert_eq!(r, vec![run(100, 10), run(200, 5)]);
    let (h, r) = slice_parts(&header, &runs, 12, 18);
    assert!(h.is_empty());
    assert_eq!(r, vec![run(102, 6)]);
}
