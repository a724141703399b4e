//! The built-in sample scenario (also shipped as `seeds/demo.json`): a small company with Sales,
//! Accounting (with a Payables sub-OU), Engineering and Support, nested groups, one suspended user, and a
//! sales user whose "Sales Contacts" group is the source of the demo sync.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::seed::{DEFAULT_DELEGATION_SCOPES, Seed, SeedContactGroup, SeedGroup, SeedUser};

fn user(email: &str, given: &str, family: &str, org_unit: &str) -> SeedUser {
    SeedUser {
        email: email.to_string(),
        given_name: given.to_string(),
        family_name: family.to_string(),
        org_unit: org_unit.to_string(),
        is_admin: false,
        suspended: false,
        archived: false,
        aliases: Vec::new(),
    }
}

fn group(email: &str, name: &str, description: &str, members: &[&str]) -> SeedGroup {
    SeedGroup {
        email: email.to_string(),
        name: name.to_string(),
        description: description.to_string(),
        aliases: Vec::new(),
        members: members.iter().map(|m| m.to_string()).collect(),
    }
}

/// A business contact: name, work email, work phone, organization and work address.
#[allow(clippy::too_many_arguments)]
fn business(
    given: &str,
    family: &str,
    email: &str,
    phone: &str,
    company: &str,
    title: &str,
    street: &str,
    city: &str,
    region: &str,
    postal: &str,
    country_code: &str,
) -> Value {
    let country = match country_code {
        "US" => "United States",
        "CA" => "Canada",
        "GB" => "United Kingdom",
        "DE" => "Germany",
        "ES" => "Spain",
        "BR" => "Brazil",
        _ => country_code,
    };
    json!({
        "names": [{"givenName": given, "familyName": family}],
        "emailAddresses": [{"value": email, "type": "work"}],
        "phoneNumbers": [{"value": phone, "type": "work"}],
        "organizations": [{"name": company, "title": title, "type": "work"}],
        "addresses": [{
            "streetAddress": street,
            "city": city,
            "region": region,
            "postalCode": postal,
            "country": country,
            "countryCode": country_code,
            "type": "work",
        }],
    })
}

/// Adds fields to a contact built by [`business`].
fn with(mut contact: Value, extra: Value) -> Value {
    if let (Value::Object(c), Value::Object(e)) = (&mut contact, extra) {
        for (k, v) in e {
            match (c.get_mut(&k), v) {
                (Some(Value::Array(existing)), Value::Array(more)) => existing.extend(more),
                (_, v) => {
                    c.insert(k, v);
                }
            }
        }
    }
    contact
}

fn sales_contacts() -> Vec<Value> {
    vec![
        with(
            business(
                "Olivia",
                "Bennett",
                "olivia.bennett@northwind-traders.com",
                "+1 206-555-0142",
                "Northwind Traders",
                "Purchasing Manager",
                "1200 Pine St",
                "Seattle",
                "WA",
                "98101",
                "US",
            ),
            json!({
                "biographies": [{"value": "Decision maker for all kitchen equipment orders. Prefers calls before 10am.", "contentType": "TEXT_PLAIN"}],
                "birthdays": [{"date": {"year": 1984, "month": 3, "day": 14}}],
                "phoneNumbers": [{"value": "+1 206-555-0199", "type": "mobile"}],
            }),
        ),
        with(
            business(
                "Liam",
                "Carter",
                "liam.carter@contoso.com",
                "+1 425-555-0117",
                "Contoso Ltd",
                "IT Director",
                "1 Microsoft Way",
                "Redmond",
                "WA",
                "98052",
                "US",
            ),
            json!({
                "urls": [{"value": "https://www.contoso.com", "type": "work"}],
                "nicknames": [{"value": "Lee"}],
            }),
        ),
        business(
            "Emma",
            "Schultz",
            "emma.schultz@fabrikam.de",
            "+49 30 5550 1234",
            "Fabrikam GmbH",
            "Head of Procurement",
            "Friedrichstrasse 68",
            "Berlin",
            "Berlin",
            "10117",
            "DE",
        ),
        with(
            business(
                "Noah",
                "Fischer",
                "noah.fischer@adventure-works.com",
                "+1 303-555-0163",
                "Adventure Works",
                "Store Manager",
                "1600 Glenarm Pl",
                "Denver",
                "CO",
                "80202",
                "US",
            ),
            json!({
                "events": [{"date": {"year": 2019, "month": 6, "day": 1}, "type": "anniversary"}],
                "relations": [{"person": "Maya Fischer", "type": "spouse"}],
            }),
        ),
        business(
            "Ava",
            "Thompson",
            "ava.thompson@litware.com",
            "+1 512-555-0188",
            "Litware Inc",
            "Operations Lead",
            "500 W 2nd St",
            "Austin",
            "TX",
            "78701",
            "US",
        ),
        with(
            business(
                "Lucas",
                "Moreau",
                "lucas.moreau@wingtiptoys.com",
                "+1 514-555-0109",
                "Wingtip Toys",
                "Buyer",
                "1250 Boulevard René-Lévesque O",
                "Montréal",
                "QC",
                "H3B 4W8",
                "CA",
            ),
            json!({
                "userDefined": [{"key": "Account tier", "value": "Gold"}],
                "emailAddresses": [{"value": "lucas.moreau@gmail.com", "type": "home"}],
            }),
        ),
        business(
            "Sophia",
            "Nguyen",
            "sophia.nguyen@tailspintoys.com",
            "+1 415-555-0171",
            "Tailspin Toys",
            "VP Sales",
            "101 California St",
            "San Francisco",
            "CA",
            "94111",
            "US",
        ),
        with(
            business(
                "Mason",
                "Reed",
                "mason.reed@proseware.com",
                "+1 617-555-0124",
                "Proseware Inc",
                "Chief Financial Officer",
                "100 Federal St",
                "Boston",
                "MA",
                "02110",
                "US",
            ),
            json!({
                "biographies": [{"value": "Signs off on every contract above $50k.", "contentType": "TEXT_PLAIN"}],
                "relations": [{"person": "Julia Park", "type": "assistant"}],
            }),
        ),
        business(
            "Isabella",
            "Rossi",
            "isabella.rossi@alpineskihouse.com",
            "+1 970-555-0155",
            "Alpine Ski House",
            "General Manager",
            "610 W Lionshead Cir",
            "Vail",
            "CO",
            "81657",
            "US",
        ),
        with(
            business(
                "Ethan",
                "Brooks",
                "ethan.brooks@woodgrovebank.com",
                "+1 212-555-0136",
                "Woodgrove Bank",
                "Facilities Manager",
                "200 Park Ave",
                "New York",
                "NY",
                "10166",
                "US",
            ),
            json!({"birthdays": [{"date": {"month": 11, "day": 2}}]}),
        ),
        business(
            "Mia",
            "Hernández",
            "mia.hernandez@cohowinery.com",
            "+1 707-555-0192",
            "Coho Winery",
            "Owner",
            "1500 Main St",
            "St Helena",
            "CA",
            "94574",
            "US",
        ),
        with(
            business(
                "James",
                "O'Connor",
                "james.oconnor@margiestravel.com",
                "+44 20 7946 0321",
                "Margie's Travel",
                "Corporate Accounts",
                "30 St Mary Axe",
                "London",
                "",
                "EC3A 8BF",
                "GB",
            ),
            json!({
                "nicknames": [{"value": "Jim"}],
                "urls": [{"value": "https://www.linkedin.com/in/james-oconnor-travel", "type": "profile"}],
            }),
        ),
        business(
            "Charlotte",
            "Dubois",
            "charlotte.dubois@trey-research.net",
            "+1 919-555-0148",
            "Trey Research",
            "Lab Manager",
            "5000 Centregreen Way",
            "Cary",
            "NC",
            "27513",
            "US",
        ),
        with(
            business(
                "Benjamin",
                "Kim",
                "benjamin.kim@fourthcoffee.com",
                "+1 503-555-0177",
                "Fourth Coffee",
                "Regional Director",
                "920 SW 6th Ave",
                "Portland",
                "OR",
                "97204",
                "US",
            ),
            json!({
                "events": [{"date": {"year": 2021, "month": 9, "day": 15}, "type": "Contract renewal"}],
                "userDefined": [{"key": "Preferred contact", "value": "email"}],
            }),
        ),
        business(
            "Amelia",
            "García",
            "amelia.garcia@lucernepublishing.com",
            "+34 91 555 0133",
            "Lucerne Publishing",
            "Editor in Chief",
            "Calle de Alcalá 45",
            "Madrid",
            "Madrid",
            "28014",
            "ES",
        ),
        business(
            "Henry",
            "Walsh",
            "henry.walsh@blueyonderairlines.com",
            "+1 404-555-0114",
            "Blue Yonder Airlines",
            "Procurement Specialist",
            "6000 N Terminal Pkwy",
            "Atlanta",
            "GA",
            "30320",
            "US",
        ),
        with(
            business(
                "Harper",
                "Lee",
                "harper.lee@humongousinsurance.com",
                "+1 860-555-0186",
                "Humongous Insurance",
                "Risk Analyst",
                "151 Farmington Ave",
                "Hartford",
                "CT",
                "06156",
                "US",
            ),
            json!({"phoneNumbers": [{"value": "+1 860-555-0187", "type": "workFax"}]}),
        ),
        business(
            "Alexander",
            "Petrov",
            "alexander.petrov@graphicdesigninstitute.com",
            "+1 312-555-0129",
            "Graphic Design Institute",
            "Dean",
            "36 S Wabash Ave",
            "Chicago",
            "IL",
            "60603",
            "US",
        ),
        with(
            business(
                "Evelyn",
                "Santos",
                "evelyn.santos@wideworldimporters.com",
                "+55 11 5555 0170",
                "Wide World Importers",
                "Import Coordinator",
                "Av. Paulista 1578",
                "São Paulo",
                "SP",
                "01310-200",
                "BR",
            ),
            json!({
                "biographies": [{"value": "Speaks Portuguese, Spanish and English.", "contentType": "TEXT_PLAIN"}],
                "birthdays": [{"date": {"year": 1990, "month": 7, "day": 22}}],
            }),
        ),
        business(
            "Daniel",
            "Novak",
            "daniel.novak@consolidatedmessenger.com",
            "+1 702-555-0151",
            "Consolidated Messenger",
            "Logistics Manager",
            "3960 Howard Hughes Pkwy",
            "Las Vegas",
            "NV",
            "89169",
            "US",
        ),
        with(
            business(
                "Abigail",
                "Turner",
                "abigail.turner@relecloud.com",
                "+1 480-555-0138",
                "Relecloud",
                "CTO",
                "1 E Washington St",
                "Phoenix",
                "AZ",
                "85004",
                "US",
            ),
            json!({"urls": [{"value": "https://relecloud.com", "type": "work"}]}),
        ),
        business(
            "Matthew",
            "Ibrahim",
            "matthew.ibrahim@southridgevideo.com",
            "+1 615-555-0102",
            "Southridge Video",
            "Producer",
            "222 2nd Ave S",
            "Nashville",
            "TN",
            "37201",
            "US",
        ),
        with(
            business(
                "Emily",
                "Chen",
                "emily.chen@datum-corp.com",
                "+1 408-555-0164",
                "A. Datum Corporation",
                "Engineering Manager",
                "2001 Gateway Pl",
                "San Jose",
                "CA",
                "95110",
                "US",
            ),
            json!({
                "nicknames": [{"value": "Em"}],
                "relations": [{"person": "David Chen", "type": "manager"}],
            }),
        ),
        business(
            "Samuel",
            "Okafor",
            "samuel.okafor@vanarsdel.com",
            "+1 202-555-0191",
            "VanArsdel Ltd",
            "Account Executive",
            "1300 Pennsylvania Ave NW",
            "Washington",
            "DC",
            "20004",
            "US",
        ),
        with(
            business(
                "Grace",
                "Müller",
                "grace.mueller@fineartschool.net",
                "+49 89 5550 7788",
                "Fine Art School",
                "Director",
                "Leopoldstrasse 15",
                "München",
                "Bayern",
                "80802",
                "DE",
            ),
            json!({"events": [{"date": {"year": 2015, "month": 4, "day": 10}, "type": "Founded school"}]}),
        ),
    ]
}

fn ungrouped_contacts() -> Vec<Value> {
    vec![
        json!({
            "names": [{"givenName": "Rosa", "familyName": "Seller"}],
            "emailAddresses": [{"value": "rosa.seller@gmail.com", "type": "home"}],
            "phoneNumbers": [{"value": "+1 206-555-0111", "type": "mobile"}],
            "relations": [{"person": "Sam Seller", "type": "sister"}],
            "birthdays": [{"date": {"year": 1988, "month": 12, "day": 5}}],
        }),
        json!({
            "names": [{"honorificPrefix": "Dr.", "givenName": "Paul", "familyName": "Grant"}],
            "phoneNumbers": [{"value": "+1 206-555-0150", "type": "work"}],
            "organizations": [{"name": "Pine Street Dental", "title": "Dentist"}],
        }),
        json!({
            "names": [{"givenName": "Ken", "familyName": "Yamada"}],
            "emailAddresses": [{"value": "ken.yamada@example.net", "type": "other"}],
            "nicknames": [{"value": "Kenny"}],
        }),
        json!({
            "names": [{"givenName": "Laura", "familyName": "Price"}],
            "emailAddresses": [{"value": "laura.price@cityplumbing.example", "type": "work"}],
            "phoneNumbers": [{"value": "+1 206-555-0175", "type": "work"}],
            "organizations": [{"name": "City Plumbing", "title": "Dispatcher"}],
            "biographies": [{"value": "Call for office emergencies.", "contentType": "TEXT_PLAIN"}],
        }),
        json!({
            "names": [{"givenName": "Tom", "familyName": "Hale"}],
            "emailAddresses": [{"value": "tom.hale@gmail.com", "type": "home"}],
            "urls": [{"value": "https://tomhale.photography", "type": "homePage"}],
            "userDefined": [{"key": "Met at", "value": "Seattle tech meetup"}],
        }),
    ]
}

/// The sample scenario: see the module documentation.
pub fn demo_seed() -> Seed {
    let mut admin = user("admin@example.com", "Alex", "Admin", "/");
    admin.is_admin = true;
    let mut ana = user("ana@example.com", "Ana", "Alvarez", "/Accounting");
    ana.aliases = vec!["ana.alvarez@example.com".to_string()];
    let mut frank = user("frank@example.com", "Frank", "Fischer", "/Accounting");
    frank.suspended = true;
    let users = vec![
        admin,
        user("salesuser@example.com", "Sam", "Seller", "/Sales"),
        user("sara@example.com", "Sara", "Stone", "/Sales"),
        ana,
        user("ben@example.com", "Ben", "Brooks", "/Accounting"),
        user("carla@example.com", "Carla", "Castro", "/Accounting"),
        user("dave@example.com", "Dave", "Dawson", "/Accounting/Payables"),
        user("erin@example.com", "Erin", "Evans", "/Accounting/Payables"),
        frank,
        user("gina@example.com", "Gina", "Garcia", "/Engineering"),
        user("hugo@example.com", "Hugo", "Hansen", "/Engineering"),
        user("ivy@example.com", "Ivy", "Ito", "/Support"),
        user("jack@example.com", "Jack", "Jones", "/Support"),
    ];
    let groups = vec![
        group(
            "accounting@example.com",
            "Accounting",
            "The accounting department",
            &["ana@example.com", "payables-team@example.com"],
        ),
        group(
            "payables-team@example.com",
            "Payables Team",
            "Accounts payable",
            &["dave@example.com", "erin@example.com"],
        ),
        group(
            "sales-team@example.com",
            "Sales Team",
            "Sales, with our reseller",
            &[
                "salesuser@example.com",
                "sara@example.com",
                "reseller@partner-example.net",
            ],
        ),
        group(
            "engineering@example.com",
            "Engineering",
            "",
            &["gina@example.com", "hugo@example.com"],
        ),
        group(
            "support@example.com",
            "Support",
            "",
            &["ivy@example.com", "jack@example.com", "frank@example.com"],
        ),
        group(
            "all-staff@example.com",
            "All Staff",
            "Everybody",
            &[
                "admin@example.com",
                "accounting@example.com",
                "sales-team@example.com",
                "engineering@example.com",
                "support@example.com",
            ],
        ),
    ];
    let mut contact_groups = BTreeMap::new();
    contact_groups.insert(
        "salesuser@example.com".to_string(),
        vec![SeedContactGroup {
            name: "Sales Contacts".to_string(),
            contacts: sales_contacts(),
        }],
    );
    let mut contacts = BTreeMap::new();
    contacts.insert("salesuser@example.com".to_string(), ungrouped_contacts());
    contacts.insert(
        "ana@example.com".to_string(),
        vec![json!({
            "names": [{"givenName": "Marta", "familyName": "Alvarez"}],
            "phoneNumbers": [{"value": "+1 206-555-0133", "type": "mobile"}],
            "relations": [{"person": "Ana Alvarez", "type": "mother"}],
        })],
    );
    Seed {
        customer_id: "C01234567".to_string(),
        domains: vec!["example.com".to_string()],
        org_units: [
            "/Sales",
            "/Accounting",
            "/Accounting/Payables",
            "/Engineering",
            "/Support",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        users,
        groups,
        contact_groups,
        contacts,
        delegation_scopes: DEFAULT_DELEGATION_SCOPES
            .iter()
            .map(|s| s.to_string())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::World;

    #[test]
    fn demo_seed_loads() {
        let world =
            World::from_seed(&demo_seed(), "2024-01-01T00:00:00Z").expect("demo seed loads");
        let sam = world.find_user("salesuser@example.com").expect("sam");
        let book = world.books.get(&sam.id).expect("book");
        assert_eq!(book.dump_contacts().len(), 30);
        assert!(world.find_user("ana.alvarez@example.com").is_some());
    }
}
