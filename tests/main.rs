//! Integration tests: they run the real `netsleuth` binary on captures built here
//! (tests/util/capture_builder.rs writes pcap/pcapng byte by byte) and on real
//! loopback traffic captured live (skipped, with the reason printed, when not root).

mod util;

mod analyze;
mod app;
mod capture;
mod conn_records;
mod decrypt_h2;
mod decrypt_live;
mod demo;
mod dns_ops;
mod dns_records;
mod drops;
mod dtls;
mod evidence;
mod expect;
mod expect_request;
mod follow;
mod goroutines;
mod grouped_report;
mod html_report;
mod http_connect_live;
mod http_zeek;
mod json_document;
mod live_app;
mod live_dns;
mod live_pool;
mod live_starttls;
mod live_tls;
mod monitoring;
mod probe;
mod probe_local;
mod read;
mod readme_zh;
mod scale;
mod starttls;
mod threads;
mod tshark_compare;
mod verdicts;
mod watch;
mod watch_metrics;
mod zeek_logs;
