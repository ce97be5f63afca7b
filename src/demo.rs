//! `sipas serve --demo`: Thái Nguyên as it is in 2026 (the departments after the March 2025
//! mergers, the Public Administration Service Centre and its branches, 92 communes and wards
//! after the merger with Bắc Kạn on 1 July 2025) with responses in the new map since then,
//! plus the year before in the old map (9 districts and 172 communes, Bắc Kạn's 8 districts
//! and 108 communes: paper forms, no dossiers) and the successions that link the two, so that
//! a report on today's map continues across the reform. A few agencies have planted harassment
//! and repeat-visit problems; survey links to try are printed.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::catalog::{import as catalog_import, queries as catalog};
use crate::config::Settings;
use crate::db::Database;
use crate::db::DbConn;
use crate::db::schema::{agencies, invitations, responses};
use crate::domain::TokenSecret;
use crate::domain::{Channel, Code, SurveyToken, new_seed};
use crate::invitations::NewInvitation;
use crate::invitations::dossier::Dossier;
use crate::invitations::issue::{Issuer, Scope};
use crate::questionnaire::Questionnaire;
use crate::responses::record::{Entry, record};
use crate::responses::{Context, Submission};

const AGENCIES: &str = include_str!("../assets/demo/agencies.csv");
const REFORM_AGENCIES: &str = include_str!("../assets/demo/agencies_reform.csv");
const SUCCESSIONS: &str = include_str!("../assets/demo/successions.csv");
const PROCEDURES: &str = include_str!("../assets/demo/procedures.csv");

/// Agencies planted with a harassment problem (share of responses reporting it).
pub const PLANTED_HARASSMENT: [(&str, f64); 2] = [("TN-SNNMT", 0.22), ("TN-X-025", 0.30)];
/// Agencies planted with a repeat-visit problem.
pub const PLANTED_VISITS: [(&str, f64); 2] = [("TN-SXD", 0.35), ("TN-CN-PB", 0.30)];

/// The first day of the two-level map (Resolution 202/2025/QH15).
const REFORM: NaiveDate = match NaiveDate::from_ymd_opt(2025, 7, 1) {
    Some(d) => d,
    None => panic!("not a date"),
};

/// The first day of the old-map year of paper responses.
const OLD_YEAR: NaiveDate = match NaiveDate::from_ymd_opt(2024, 7, 1) {
    Some(d) => d,
    None => panic!("not a date"),
};

/// Thái Nguyên's old district-level units with their communes after 1 December 2024 (172; the
/// split between districts is invented), then Bắc Kạn's (108): (parent, communes, short code,
/// province).
const OLD_DISTRICTS: [(&str, usize, &str, &str); 17] = [
    ("TN-H-TPTN", 29, "TPTN", "TN"),
    ("TN-H-TPSC", 9, "TPSC", "TN"),
    ("TN-H-TPPY", 17, "TPPY", "TN"),
    ("TN-H-DT", 27, "DT", "TN"),
    ("TN-H-DH", 21, "DH", "TN"),
    ("TN-H-DHY", 15, "DHY", "TN"),
    ("TN-H-PB", 20, "PB", "TN"),
    ("TN-H-PL", 14, "PL", "TN"),
    ("TN-H-VN", 20, "VN", "TN"),
    ("BK-H-TPBK", 6, "TPBK", "BK"),
    ("BK-H-BB", 15, "BB", "BK"),
    ("BK-H-BT", 14, "BT", "BK"),
    ("BK-H-CD", 22, "CD", "BK"),
    ("BK-H-CM", 14, "CM", "BK"),
    ("BK-H-NR", 17, "NR", "BK"),
    ("BK-H-NS", 10, "NS", "BK"),
    ("BK-H-PN", 10, "PN", "BK"),
];

/// Communes and wards of the new Thái Nguyên (Resolution 1683/NQ-UBTVQH15).
const NEW_COMMUNES: usize = 92;

const COMMUNE_NAMES: [&str; 40] = [
    "Quang Trung",
    "Hoàng Văn Thụ",
    "Tân Thịnh",
    "Phan Đình Phùng",
    "Gia Sàng",
    "Đồng Quang",
    "Tân Lập",
    "Thịnh Đán",
    "Quyết Thắng",
    "Tích Lương",
    "Cam Giá",
    "Phú Xá",
    "Trung Thành",
    "Tân Thành",
    "Hương Sơn",
    "Lương Sơn",
    "Bách Quang",
    "Cải Đan",
    "Mỏ Chè",
    "Thắng Lợi",
    "Bá Xuyên",
    "Tân Quang",
    "Bình Sơn",
    "Vinh Sơn",
    "Đắc Sơn",
    "Hồng Tiến",
    "Nam Tiến",
    "Tân Hương",
    "Đông Cao",
    "Minh Đức",
    "Phúc Thuận",
    "Thành Công",
    "Hùng Sơn",
    "Hà Thượng",
    "Phú Thịnh",
    "Yên Lãng",
    "Quân Chu",
    "Văn Yên",
    "Bản Ngoại",
    "Phục Linh",
];

/// More place names for the new map's communes and wards (with [`COMMUNE_NAMES`], 92 distinct
/// names; real places of the two provinces, invented as the names of merged communes).
const MORE_NAMES: [&str; 52] = [
    "Linh Sơn",
    "Điềm Thụy",
    "Kha Sơn",
    "Tân Khánh",
    "Lương Phú",
    "Bàn Đạt",
    "Úc Kỳ",
    "Nga My",
    "Hà Châu",
    "La Hiên",
    "Tràng Xá",
    "Thần Sa",
    "Sảng Mộc",
    "Nghinh Tường",
    "Cúc Đường",
    "Dân Tiến",
    "Bình Yên",
    "Phú Đình",
    "Kim Phượng",
    "Lam Vỹ",
    "Bảo Linh",
    "Phượng Tiến",
    "Yên Trạch",
    "Hợp Thành",
    "Yên Ninh",
    "Ôn Lương",
    "Động Đạt",
    "Giang Tiên",
    "Tức Tranh",
    "Vô Tranh",
    "Cổ Lũng",
    "Khe Mo",
    "Hóa Thượng",
    "Văn Hán",
    "Trại Cau",
    "Quang Sơn",
    "Nam Hòa",
    "Phúc Lộc",
    "Chu Hương",
    "Thượng Giáo",
    "Nam Mẫu",
    "Đồng Phúc",
    "Bằng Vân",
    "Thượng Quan",
    "Vân Tùng",
    "Cốc Đán",
    "Bộc Bố",
    "Nhạn Môn",
    "Yến Lạc",
    "Kim Lư",
    "Thanh Mai",
    "Nông Hạ",
];

/// Which department handles province-level procedures of each field.
const DEPARTMENT_OF_FIELD: [(&str, &str); 12] = [
    ("Lý lịch tư pháp", "TN-STP"),
    ("Đất đai", "TN-STNMT"),
    ("Môi trường", "TN-STNMT"),
    ("Xây dựng", "TN-SXD"),
    ("Đường bộ", "TN-SGTVT"),
    ("Thành lập và hoạt động doanh nghiệp", "TN-SKHDT"),
    ("Đầu tư", "TN-SKHDT"),
    ("Kinh doanh xăng dầu", "TN-SCT"),
    ("Việc làm", "TN-SLDTBXH"),
    ("Văn hóa", "TN-SVHTTDL"),
    ("Báo chí xuất bản", "TN-STTTT"),
    ("Khám bệnh chữa bệnh", "TN-SYT"),
];

const COMMENTS: [&str; 8] = [
    "Cán bộ hướng dẫn nhiệt tình, thủ tục nhanh gọn.",
    "Nơi chờ hơi chật, mong bố trí thêm ghế.",
    "Nên có thêm hướng dẫn nộp hồ sơ trực tuyến.",
    "Tôi hài lòng với kết quả.",
    "Phải chờ lâu mới đến lượt.",
    "Cần niêm yết rõ hơn thành phần hồ sơ.",
    "Cán bộ lịch sự, giải thích dễ hiểu.",
    "Trang dịch vụ công trực tuyến hay bị lỗi.",
];

const HARASSMENT_COMMENTS: [&str; 3] = [
    "Cán bộ gợi ý phải bồi dưỡng thì hồ sơ mới nhanh.",
    "Bị hạch sách, bắt bổ sung giấy tờ nhiều lần.",
    "Phải gửi tiền cà phê mới được giải quyết.",
];

/// A small deterministic generator (SplitMix64): the demo is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }
}

/// What the demo needs of the installation it seeds.
pub struct Installation<'a> {
    pub db: &'a Database,
    pub settings: &'a Settings,
    pub secret: &'a TokenSecret,
    pub questionnaire: &'a Questionnaire,
}

/// Seeds the demo province when the database has no agencies; returns whether it did.
pub fn seed_if_empty(state: &Installation<'_>) -> anyhow::Result<bool> {
    let mut conn = state.db.conn()?;
    let count: i64 = agencies::table.count().get_result(&mut *conn)?;
    if count > 0 {
        return Ok(false);
    }
    println!(
        "Đang tạo tỉnh mẫu (Thái Nguyên) với một năm phiếu khảo sát… (creating the demo province)"
    );
    crate::db::write_transaction(&mut conn, |conn| seed(conn, state))?;
    let password = crate::accounts::password::generate().map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = crate::clock::now();
    let accounts = [
        ("admin@sipas.demo", "admin", None),
        ("reviewer@sipas.demo", "reviewer", None),
        ("snnmt@sipas.demo", "agency_head", Some("TN-SNNMT")),
        ("sxd@sipas.demo", "agency_head", Some("TN-SXD")),
    ];
    // One generated password for the demo accounts, printed once (a demo, not a deployment).
    let demo_password = format!("demo-{password}");
    for (email, role, agency) in accounts {
        crate::accounts::users::create(&mut conn, email, role, agency, &demo_password, now)?;
    }
    println!(
        "Trang quản trị (dashboard): {}/admin — tài khoản (accounts) {} với mật khẩu (password) {demo_password}",
        state.settings.public_url(),
        accounts.map(|a| a.0).join(", ")
    );
    Ok(true)
}

fn seed(conn: &mut DbConn, state: &Installation<'_>) -> anyhow::Result<()> {
    catalog_import::import_agencies(conn, AGENCIES.as_bytes())?;
    catalog_import::import_procedures(conn, PROCEDURES.as_bytes())?;
    for (code, name) in [("TN", "Thái Nguyên"), ("BK", "Bắc Kạn")] {
        let province = catalog::ensure_province(conn, code)?;
        catalog::rename_province(conn, province.id, name)?;
    }
    catalog_import::import_agencies(conn, REFORM_AGENCIES.as_bytes())?;
    let (communes, successions) = communes();
    catalog_import::import_agencies(conn, communes.as_bytes())?;
    // The communes first: Bắc Kạn's merger into Thái Nguyên (in SUCCESSIONS) needs every one of
    // its agencies to have a successor already.
    crate::catalog::successions::import_successions(conn, successions.as_bytes())?;
    crate::catalog::successions::import_successions(conn, SUCCESSIONS.as_bytes())?;
    let agencies = catalog::all_agencies(conn)?;
    let procedures = catalog::all_procedures(conn)?;
    // Link each agency to the procedures it handles; the service centre's branches took over
    // the district desks' procedures.
    let department: HashMap<&str, &str> = DEPARTMENT_OF_FIELD.into_iter().collect();
    let ids: HashMap<&str, i64> = agencies.iter().map(|a| (a.code.as_str(), a.id)).collect();
    let mut handled: HashMap<i64, Vec<i64>> = HashMap::new();
    for p in &procedures {
        match p.level.as_str() {
            "tinh" => {
                let owner = department
                    .get(p.field.as_str())
                    .and_then(|c| ids.get(c))
                    .copied();
                for id in owner.into_iter().chain(ids.get("TN-TTHCC").copied()) {
                    handled.entry(id).or_default().push(p.id);
                }
            }
            level => {
                for a in agencies
                    .iter()
                    .filter(|a| a.level == level || (level == "huyen" && is_branch(&a.code)))
                {
                    handled.entry(a.id).or_default().push(p.id);
                }
            }
        }
    }
    let general: Vec<i64> = procedures
        .iter()
        .filter(|p| p.level == "tinh")
        .map(|p| p.id)
        .collect();
    for a in &agencies {
        let list = handled
            .entry(a.id)
            .or_insert_with(|| vec![general[a.id as usize % general.len().max(1)]]);
        for p in list.iter() {
            catalog::link(conn, a.id, *p)?;
        }
    }
    let mut rng = Rng(2640);
    let today = crate::clock::today();
    let now = crate::clock::now();
    let mut batch = Vec::new();
    let mut dossiers = Vec::new();
    for agency in &agencies {
        let planted = PLANTED_HARASSMENT
            .iter()
            .chain(&PLANTED_VISITS)
            .any(|(c, _)| *c == agency.code);
        // Responses a month: paper forms before the reform, the survey after it.
        let monthly = match (agency.level.as_str(), agency.code.as_str()) {
            (_, "TN-TTHCC") => 150,
            _ if planted => rng.between(15, 25),
            _ if is_branch(&agency.code) => rng.between(8, 25),
            ("tinh", _) => rng.between(8, 50),
            ("huyen", _) => rng.between(20, 60),
            ("xa", _) if agency.valid_to.is_some() => rng.between(1, 6),
            _ if rng.chance(0.1) => 1,
            _ => rng.between(2, 14),
        };
        let first = agency.valid_from.unwrap_or(OLD_YEAR).max(OLD_YEAR);
        let last = agency.valid_to.unwrap_or(today).min(today);
        if last < first {
            continue;
        }
        let span = (last - first).num_days() + 1;
        let volume = (monthly as i64 * span / 30).max(1) as usize;
        let profile = Profile::of(&agency.code, &mut rng);
        let procedures = handled.get(&agency.id).cloned().unwrap_or_default();
        let mut surveyed = 0;
        for _ in 0..volume {
            let day = first + Duration::days(rng.below(span as usize) as i64);
            surveyed += usize::from(day >= REFORM);
            batch.push(Entry::plain(profile.response(
                &mut rng,
                state,
                agency.id,
                &procedures,
                day,
            )));
        }
        // Dossiers reported since the survey began (the reform): responses are 25–60% of them.
        let since = first.max(REFORM);
        if surveyed > 0 && last >= since {
            let days = (last - since).num_days() as usize + 1;
            let reported = (surveyed as f64 / (0.25 + 0.35 * rng.unit())).round() as usize;
            for n in 0..reported {
                let returned = since + Duration::days(rng.below(days) as i64);
                dossiers.push(invitation(
                    &mut rng,
                    state,
                    agency.id,
                    &procedures,
                    returned,
                    n,
                    n < surveyed,
                    now,
                )?);
            }
        }
        if batch.len() >= 20_000 {
            record(conn, &batch)?;
            batch.clear();
        }
        for chunk in dossiers.chunks(1000) {
            crate::on_backend!(conn, c => diesel::insert_into(invitations::table).values(chunk).execute(c))?;
        }
        dossiers.clear();
    }
    record(conn, &batch)?;
    // The generated dossiers were inserted directly: count them once.
    crate::aggregates::recount(conn)?;
    let total: i64 = responses::table
        .filter(crate::responses::visible())
        .count()
        .get_result(conn)?;
    println!(
        "  {} cơ quan ({} trong bản đồ hiện nay), {} thủ tục, {total} phiếu (agencies, in today's map, procedures, responses)",
        agencies.len(),
        agencies.iter().filter(|a| a.valid_to.is_none()).count(),
        procedures.len()
    );
    Ok(())
}

/// A branch of the Public Administration Service Centre (they took over the district desks).
fn is_branch(code: &str) -> bool {
    code.starts_with("TN-CN-")
}

/// The generated communes (CSV for `import agencies`): the old map's 280 (names invented from
/// real place names) and the new map's 92 (`TN-X-001`…, names invented), and the successions
/// that link them (CSV for `import successions`): consecutive old communes merge into one new
/// one, and one old commune is split between two new ones (60% and 40%).
fn communes() -> (String, String) {
    let mut csv = String::from("code,name,level,province_code,parent_code,valid_from,valid_to\n");
    let mut old = Vec::new();
    for (d, (parent, count, short, province)) in OLD_DISTRICTS.iter().enumerate() {
        for i in 1..=*count {
            let name = COMMUNE_NAMES[(d * 7 + i) % COMMUNE_NAMES.len()];
            let kind = if short.starts_with("TP") {
                "Phường"
            } else {
                "Xã"
            };
            let code = format!("{province}-X-{short}-{i:02}");
            csv.push_str(&format!(
                "{code},UBND {kind} {name} ({short}),xa,{province},{parent},,\n"
            ));
            old.push(code);
        }
    }
    for (j, name) in COMMUNE_NAMES
        .iter()
        .chain(&MORE_NAMES)
        .take(NEW_COMMUNES)
        .enumerate()
    {
        let kind = if j < 15 { "phường" } else { "xã" };
        csv.push_str(&format!(
            "TN-X-{:03},UBND {kind} {name},xa,TN,,{REFORM},\n",
            j + 1
        ));
    }
    let mut successions = String::from("old_code,new_code,effective_date,share\n");
    let new_of = |i: usize| i * NEW_COMMUNES / old.len() + 1;
    for (i, code) in old.iter().enumerate() {
        let j = new_of(i);
        if i == 40 && new_of(i + 1) == j && j < NEW_COMMUNES {
            successions.push_str(&format!("{code},TN-X-{j:03},{REFORM},0.6\n"));
            successions.push_str(&format!("{code},TN-X-{:03},{REFORM},0.4\n", j + 1));
        } else {
            successions.push_str(&format!("{code},TN-X-{j:03},{REFORM},\n"));
        }
    }
    (csv, successions)
}

/// How an agency's citizens tend to answer.
struct Profile {
    satisfied: f64,
    harassment: f64,
    repeat_visits: f64,
    late: f64,
}

impl Profile {
    fn of(code: &str, rng: &mut Rng) -> Profile {
        let planted = |list: &[(&str, f64)]| list.iter().find(|(c, _)| *c == code).map(|(_, p)| *p);
        let harassment = planted(&PLANTED_HARASSMENT);
        let visits = planted(&PLANTED_VISITS);
        let mut satisfied = 0.72 + 0.2 * rng.unit();
        if harassment.is_some() || visits.is_some() {
            satisfied -= 0.15;
        }
        Profile {
            satisfied,
            harassment: harassment.unwrap_or(0.02 + 0.03 * rng.unit()),
            repeat_visits: visits.unwrap_or(0.04 + 0.05 * rng.unit()),
            late: 0.03 + 0.1 * rng.unit(),
        }
    }

    fn rating(&self, rng: &mut Rng) -> i32 {
        if rng.chance(self.satisfied) {
            if rng.chance(0.45) { 5 } else { 4 }
        } else {
            [3, 3, 3, 2, 2, 1][rng.below(6)]
        }
    }

    fn response(
        &self,
        rng: &mut Rng,
        state: &Installation<'_>,
        agency_id: i64,
        procedures: &[i64],
        day: NaiveDate,
    ) -> Submission {
        let late = rng.chance(self.late);
        let channel = match rng.below(20) {
            // Before the reform: paper forms and legacy tools.
            _ if day < REFORM => Channel::Paper,
            0 => Channel::Postal,
            1..=7 => Channel::Online,
            _ => Channel::Counter,
        };
        let ctx = Context {
            agency_id,
            procedure_id: procedures.get(rng.below(procedures.len())).copied(),
            channel,
            submitted_on: day,
            late: Some(late),
            days_late: Some(if late { rng.between(1, 10) as i32 } else { 0 }),
        };
        let mut s = Submission::new(state.questionnaire, ctx);
        for item in ["TC0", "TT0", "CC0", "KQ0", "HL0"] {
            let r = self.rating(rng);
            s.set(item, r);
        }
        let pa0 = if rng.chance(0.3) { 0 } else { self.rating(rng) };
        s.set("PA0", pa0);
        let repeat = rng.chance(self.repeat_visits);
        s.set(
            "E1",
            if repeat {
                rng.between(3, 4) as i32
            } else {
                rng.between(1, 2) as i32
            },
        );
        s.set(
            "E2",
            if repeat && rng.chance(0.5) {
                3
            } else {
                rng.between(1, 2) as i32
            },
        );
        if late {
            s.set("E4", if rng.chance(0.33) { 1 } else { 2 });
            s.set("E5", if rng.chance(0.19) { 1 } else { 2 });
        }
        let harassed = rng.chance(self.harassment);
        s.set(
            "E6",
            if harassed {
                2
            } else if rng.chance(0.03) {
                3
            } else {
                1
            },
        );
        // Being asked outright for money is rare, except where harassment was planted.
        let asked = if self.harassment > 0.1 { 0.25 } else { 0.03 };
        let money = if harassed && rng.chance(0.4) {
            if rng.chance(asked) { 3 } else { 2 }
        } else if rng.chance(0.004) {
            2
        } else {
            1
        };
        s.set("E7", money);
        if harassed && rng.chance(0.3) {
            s.response.comment =
                Some(HARASSMENT_COMMENTS[rng.below(HARASSMENT_COMMENTS.len())].to_owned());
        } else if rng.chance(0.08) {
            s.response.comment = Some(COMMENTS[rng.below(COMMENTS.len())].to_owned());
        }
        if repeat {
            s.response.hl0 = Some([2, 3, 4][rng.below(3)]);
        }
        s
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site, all facts of one generated dossier"
)]
fn invitation(
    rng: &mut Rng,
    state: &Installation<'_>,
    agency_id: i64,
    procedures: &[i64],
    returned: NaiveDate,
    n: usize,
    used: bool,
    now: NaiveDateTime,
) -> anyhow::Result<NewInvitationUsed> {
    let seed = new_seed().map_err(|e| anyhow::anyhow!("{e}"))?;
    let token = SurveyToken::derive(state.secret, &seed);
    let returned_at = returned.and_hms_opt(9, 0, 0).unwrap_or_default();
    let received_at = returned_at - Duration::days(rng.between(3, 20) as i64);
    let late = rng.chance(0.08);
    let due_at = if late {
        returned_at - Duration::days(2)
    } else {
        returned_at + Duration::days(1)
    };
    Ok(NewInvitationUsed {
        invitation: NewInvitation {
            token_hash: token.hash(),
            token_seed: seed,
            agency_id,
            procedure_id: procedures.first().copied().unwrap_or_default(),
            dossier_code: format!("HS-{agency_id}-{n:06}"),
            channel: Channel::Counter,
            received_at,
            due_at: Some(due_at),
            returned_at,
            late: Some(late),
            days_late: Some(if late { 2 } else { 0 }),
            created_at: returned_at,
            expires_at: returned_at
                + Duration::days(i64::from(state.settings.survey.invitation_ttl_days)),
        },
        used,
    })
    .map(|mut i| {
        i.invitation.created_at = i.invitation.created_at.min(now);
        i
    })
}

/// A generated invitation and whether its survey was answered.
#[derive(Insertable)]
#[diesel(table_name = invitations)]
struct NewInvitationUsed {
    #[diesel(embed)]
    invitation: NewInvitation,
    used: bool,
}

/// Issues `n` fresh invitations (one late) and returns their survey URLs.
pub fn sample_links(state: &Installation<'_>, n: usize) -> anyhow::Result<Vec<String>> {
    let mut conn = state.db.conn()?;
    let now = crate::clock::now();
    let stamp = now.format("%Y%m%d%H%M%S");
    let targets = [
        ("TN-TTHCC", "DN-TL"),
        ("TN-X-001", "HT-KS"),
        ("TN-CN-DT", "DD-CGCN-H"),
        ("TN-STP", "TP-LLTP"),
    ];
    let mut dossiers = Vec::new();
    for i in 0..n {
        let (agency, _) = targets[i % targets.len()];
        let Some(a) = catalog::agency_by_code(&mut conn, agency)? else {
            continue;
        };
        let procs = catalog::procedures_for_agency(&mut conn, &a)?;
        let Some(p) = procs.first() else { continue };
        let late = i % 2 == 1;
        let (Some(dossier_code), Some(agency_code), Some(procedure_code)) = (
            Code::parse(&format!("DEMO-{stamp}-{i}")),
            Code::parse(agency),
            Code::parse(&p.code),
        ) else {
            continue;
        };
        dossiers.push(Dossier {
            dossier_code,
            agency_code,
            procedure_code,
            channel: Channel::Counter,
            received_at: now - Duration::days(10),
            due_at: Some(if late {
                now - Duration::days(2)
            } else {
                now + Duration::days(1)
            }),
            returned_at: now,
            contact: Default::default(),
        });
    }
    let issuer = Issuer {
        secret: state.secret,
        ttl_days: state.settings.survey.invitation_ttl_days,
        now,
        reach: None,
    };
    let issued = issuer.issue(&mut conn, &dossiers, Scope::All)?;
    let base = state.settings.public_url();
    let mut links: Vec<String> = issued
        .iter()
        .zip(&dossiers)
        .map(|(i, d)| {
            let late = if d.lateness().0 == Some(true) {
                " (trễ hẹn / late)"
            } else {
                ""
            };
            format!("{base}/s/{}{late}", i.token.as_str())
        })
        .collect();
    links.push(format!("{base}/k/TN-X-001 (walk-in poster)"));
    Ok(links)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_map_has_92_distinct_communes_and_every_old_one_a_successor() {
        let (catalog, successions) = communes();
        let names: std::collections::HashSet<&str> =
            COMMUNE_NAMES.iter().chain(&MORE_NAMES).copied().collect();
        assert_eq!(names.len(), NEW_COMMUNES);
        let new = catalog.lines().filter(|l| l.starts_with("TN-X-0")).count();
        assert_eq!(new, NEW_COMMUNES);
        let old: usize = OLD_DISTRICTS.iter().map(|d| d.1).sum();
        assert_eq!(old, 172 + 108);
        // One row per old commune, and one more for the split.
        assert_eq!(successions.lines().count(), 1 + old + 1);
        assert_eq!(successions.matches(",0.6").count(), 1);
        assert_eq!(successions.matches(",0.4").count(), 1);
    }
}
