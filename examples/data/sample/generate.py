#!/usr/bin/env python3
"""Generates lstmner's sample NER corpus: train.txt, valid.txt and test.txt next to this script.

Every template, name and word below was written for lstmner; nothing is taken from CoNLL-2003 or
any other corpus. The output is deterministic (fixed seed): running this script again reproduces
the committed files byte for byte, which `python3 generate.py --check` verifies.

Format: CoNLL-2003's four columns `word POS chunk NER`, documents opened by `-DOCSTART- -X- -X- O`,
a blank line after every sentence. NER tags are IOB1 like CoNLL-2003 (an entity starts with I-;
B- only where an entity directly follows another of the same type). POS and chunk columns are
approximate (a lookup table and suffix rules, see pos_of / chunk_of), not gold annotation.

Names are split per pool into names used in training and names held out: valid and test draw
about half their entities from the held-out names, so the scores measure how well the tagger uses
context and word shape on names it never saw. One template in six is held out of training too.
"""

import argparse
import os
import random
import sys

SEED = 20261125
SIZES = {"train": 400, "valid": 100, "test": 100}
# Every 6th template of a topic (the 1st, 7th, 13th, ...) is used only in valid and test, so that
# they also measure sentences whose wording training never showed.
HELD_OUT_TEMPLATE_EVERY = 6

# ----- name pools (entity type, names); multi-word names are single strings --------------------

FIRST_NAMES = """Anna Marek Lena Tomas Ingrid Rafael Yusuf Keiko Oskar Helga Dmitri Amara Jonas
Sofia Pieter Carmen Elif Nikolai Mirela Hugo Ines Bruno Freya Emeka Leila Aurelio Katya Sven
Odile Matteo Rania Viktor Greta Tariq Noemi Felix Zofia Ansel Priya Lorenzo Wanjiru Henrik
Beatriz Kwame Signe Ludo Marta Idris Colette""".split()

LAST_NAMES = """Brannick Delacourt Ferrando Galloway Hartvig Ilves Jorvik Kessler Lindqvist
Morandi Novak Oyelaran Petrakis Quintero Rasmund Sorvino Tanaka Ulbricht Varga Whitcombe Yildiz
Zamora Achterberg Bellamy Castellano Dragomir Eastwood Fenwick Grisanti Holloway Ivanova Jansky
Korhonen Lavelle Mbeki Nordahl Ostrander Pellegrini Rothwell Sandoval Thorvald Underhill Valcourt
Wexford Zielinski Abernathy Bergamo Cordell""".split()

CITIES = """Lisbon Oslo Gdansk Porto Bergen Tampere Lyon Graz Utrecht Krakow Seville Turin Ghent
Malmo Leipzig Bilbao Zagreb Riga Tallinn Vilnius Dublin Cork Antwerp Bordeaux Nantes Geneva Basel
Salzburg Brno Kosice Plovdiv Varna Cluj Timisoara Split Ljubljana Trieste Palermo Valencia Malaga
Aarhus Uppsala Turku Tartu Mombasa Accra Nairobi Osaka Sapporo Busan Perth Hobart Calgary
Halifax""".split() + ["New Harbour", "Port Elmsley", "San Carlo", "Las Cumbres", "Fort Ashby",
                      "East Marlow"]

COUNTRIES = """Portugal Norway Poland Finland France Austria Belgium Sweden Germany Spain Croatia
Latvia Estonia Lithuania Ireland Switzerland Slovakia Bulgaria Romania Slovenia Italy Denmark Kenya
Ghana Japan Korea Australia Canada Chile Peru Morocco Tunisia Iceland Hungary""".split() + [
    "New Zealand", "South Africa", "Costa Rica", "Czech Republic"]

NATIONALITIES = """Portuguese Norwegian Polish Finnish French Austrian Belgian Swedish German
Spanish Croatian Latvian Estonian Lithuanian Irish Swiss Slovak Bulgarian Romanian Slovenian
Italian Danish Kenyan Ghanaian Japanese Korean Australian Canadian Chilean Peruvian Moroccan
Icelandic Hungarian""".split()

COMPANIES = ["Northwind Traders", "Calder Mining", "Bluewater Bank", "Harbor Union", "Altavia",
             "Brightline Energy", "Corvel Foods", "Denholm Steel", "Ecliptic Systems",
             "Fairmont Insurance", "Greyfield Motors", "Halden Pharma", "Ironbridge Capital",
             "Juniper Airways", "Keystone Rail", "Larkspur Media", "Meridian Telecom",
             "Nordby Shipping", "Orchard Retail", "Pinecrest Chemicals", "Quarrystone Cement",
             "Redwater Oil", "Silverline Logistics", "Tidewell Foods", "Umbra Software",
             "Valemont Bank", "Westcliff Group", "Yarrow Textiles", "Zenith Paper", "Arclight",
             "Bexley Brewing", "Coldharbour Holdings", "Dunmore Electric", "Everline",
             "Foxglove Pharmaceuticals", "Glenmark Timber", "Hollins Aerospace", "Indigo Mobile",
             "Kestrel Airlines", "Lowther Gas"]

CLUBS = ["Rivertown United", "Ashford Rovers", "Kingsbridge City", "Marlow Athletic",
         "Eastfield Wanderers", "Northgate FC", "Saltmarsh Albion", "Westbury Town",
         "Harrowgate Celtic", "Brookvale", "Dunholm Rangers", "Clearwater Sporting",
         "Redcliff Olympic", "Stonebridge", "Lakeside Dynamo", "Millbrook Real", "Thornbury",
         "Oakhaven Athletic", "Portsea United", "Fernhill Rovers", "Glenwood City",
         "Hawksmoor", "Ivybridge Town", "Juniper Park"]

GOV_BODIES = ["Ministry of Transport", "Ministry of Finance", "Interior Ministry",
              "Health Ministry", "Supreme Court", "National Assembly", "European Commission",
              "United Nations", "World Health Organisation", "Red Cross", "Central Bank",
              "Energy Agency", "Maritime Authority", "Statistics Office", "Coast Guard",
              "Competition Authority", "Audit Office", "Food Safety Agency"]

PARTIES = ["Liberal Party", "Green Alliance", "Social Democrats", "Farmers Union",
           "People 's Party", "Centre Party", "Labour Movement", "Reform Party",
           "Christian Democrats", "Pirate Party"]

AGENCIES = ["Nordpress", "Baltic Wire", "Meridian News", "Eastern Press Service", "Newsline",
            "Continental Press"]

EVENTS = ["Winter Cup", "Harbour Regatta", "Summer Games", "Coastal Marathon", "Spring Open",
          "Northern Classic", "Autumn Trophy", "Lakes Rally", "Island Games", "Alpine Cup",
          "Grand Prix", "World Championships", "Nations League", "Masters Series"]

FESTIVALS = ["Harvest Festival", "Film Festival", "Book Fair", "Jazz Festival", "Light Festival",
             "Biennale", "Folk Week", "Opera Days"]

TITLES = ["The Silent Harbour", "Salt and Iron", "Northern Lights", "A Quiet Year",
          "The Long Road", "Winter Birds", "Glass Houses", "The Last Ferry", "Red Orchard",
          "Paper Kings", "Night Train", "The Tin Drum Circle"]

LANGUAGES = ["Portuguese", "Norwegian", "Polish", "Finnish", "French", "German", "Spanish",
             "Italian", "Swedish", "Japanese", "Korean", "Hungarian"]

DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = "January February March April May June July August September October November December".split()
CURRENCIES = ["euros", "dollars", "crowns", "francs", "pounds"]

# ----- templates ---------------------------------------------------------------------------------
# Slots: {PER} full name, {PERL} surname only, {CITY}, {COUNTRY}, {NAT} nationality (MISC),
# {CO} company, {CLUB}, {GOV}, {PARTY}, {AGENCY} (ORG), {EVENT} sports event, {FEST} cultural
# event, {TITLE}, {LANG} (MISC),
# {NUM} small number, {BIG} number with thousands separators, {DEC} decimal, {SCORE} like 2-1,
# {DAY}, {MONTH}, {YEAR}, {DATE} like 2024-03-14, {CUR} currency word, {TIME} race time,
# {RANK} like "7.", {AGE} like 34-year-old.

TOPICS = {
    "business": [
        "{CO} said on {DAY} its quarterly profit rose {DEC} percent to {NUM} million {CUR} .",
        "Shares in {CO} fell {DEC} percent in {CITY} after the company cut its forecast .",
        "{PER} , chief executive of {CO} , told reporters the merger with {CO} would close in {MONTH} .",
        "The {NAT} group {CO} agreed to buy a stake in {CO} for {NUM} million {CUR} .",
        "Analysts at {CO} expect {NAT} exports to grow by {DEC} percent this year .",
        "{CO} will open a new factory near {CITY} , creating {BIG} jobs , a spokeswoman said .",
        "\" We are very pleased with the result , \" said {PER} , the finance director of {CO} .",
        "The central bank of {COUNTRY} left its main interest rate unchanged at {DEC} percent .",
        "{CO} shares closed at {DEC} {CUR} in {CITY} on {DAY} .",
        "{PERL} said {CO} had no plans to sell its {NAT} unit .",
        "The {COMPETITION} fined {CO} {NUM} million {CUR} for fixing prices with {CO} .",
        "{CO} , based in {CITY} , reported sales of {BIG} million {CUR} for {YEAR} .",
        "Investors welcomed the news and {CO} stock gained {DEC} percent by midday .",
        "Oil prices eased on {DAY} as traders in {CITY} waited for new figures from {COUNTRY} .",
        "{PER} will replace {PER} as chairman of {CO} from {MONTH} , the board said .",
        "According to {PERL} , demand in {COUNTRY} and {COUNTRY} remained weak in the third quarter .",
        "The {STATS} said inflation in {COUNTRY} slowed to {DEC} percent in {MONTH} .",
        "{CO} and {CO} signed a supply deal worth {NUM} million {CUR} on {DAY} .",
    ],
    "politics": [
        "{PER} , the {NAT} foreign minister , arrived in {CITY} on {DAY} for talks with {PER} .",
        "The {GOV} said it would review the decision , according to a statement issued in {CITY} .",
        "Voters in {COUNTRY} will elect a new parliament in {MONTH} , officials said .",
        "Opposition leader {PER} accused the {PARTY} of breaking its promises on taxes .",
        "{PER} told the {GOV} that {COUNTRY} would not accept the new border rules .",
        "Thousands of people marched through {CITY} on {DAY} to protest against the plan .",
        "Talks between {COUNTRY} and {COUNTRY} ended without agreement , a diplomat in {CITY} said .",
        "The {PARTY} won {NUM} of the {NUM} seats in the regional assembly .",
        "President {PER} will visit {COUNTRY} and {COUNTRY} next week , his office said .",
        "{NAT} officials said the agreement would be signed in {CITY} in {MONTH} .",
        "Prime Minister {PER} of the {PARTY} survived a vote of confidence on {DAY} .",
        "The {AGENCY} news agency quoted {PERL} as saying the talks had been useful .",
        "{PERL} , who has led the {PARTY} since {YEAR} , said she would not stand again .",
        "A {GOV} spokesman in {CITY} declined to comment on the report .",
        "The {NAT} ambassador to {COUNTRY} was called to the foreign ministry in {CITY} .",
        "Minister {PER} said the {GOV} would present the budget on {DAY} .",
        "Members of the {PARTY} and the {PARTY} failed to agree on a joint candidate .",
        "{PER} , a senior member of the {PARTY} , resigned after {NUM} years in parliament .",
    ],
    "sports": [
        "{PER} scored twice as {CLUB} beat {CLUB} {SCORE} on {DAY} .",
        "{CLUB} coach {PER} said his team had been unlucky .",
        "{PER} of {COUNTRY} won the women 's {BIG} metres at the {EVENT} .",
        "The {NAT} striker {PER} joined {CLUB} on a three-year contract .",
        "{CLUB} stay top of the table after a {SCORE} draw in {CITY} .",
        "{PER} , who missed the {EVENT} with a knee injury , is expected to play on {DAY} .",
        "{PERL} equalised after {NUM} minutes before {PERL} won it for {CLUB} .",
        "{CLUB} have signed {NAT} defender {PER} from {CLUB} .",
        "{PER} ( {COUNTRY} ) beat {PER} ( {COUNTRY} ) {SCORE} {SCORE}",
        "{PER} won the {EVENT} in {CITY} , finishing {DEC} seconds ahead of {PER} .",
        "{NAT} champion {PER} retired from the race with a broken wheel .",
        "The {EVENT} will be held in {CITY} for the first time since {YEAR} .",
        "{CLUB} {NUM} {CLUB} {NUM}",
        "{RANK} {PER} ( {COUNTRY} ) {TIME}",
        "{PERL} , the {CLUB} goalkeeper , was sent off after {NUM} minutes .",
        "{PER} has been named captain of the {NAT} team for the {EVENT} .",
        "Fans of {CLUB} travelled to {CITY} for the cup final on {DAY} .",
    ],
    "general": [
        "Heavy rain caused flooding in parts of {COUNTRY} on {DAY} , police said .",
        "A spokesman for the {GOV} said {NUM} people had been rescued near {CITY} .",
        "The {AGENCY} news agency reported that the road between {CITY} and {CITY} was closed .",
        "{PER} , a {AGE} teacher from {CITY} , said she had never seen such a storm .",
        "{CO} flights to {CITY} were cancelled because of strong winds .",
        "The {NAT} film \" {TITLE} \" won the main prize at the {FEST} in {CITY} .",
        "Director {PER} thanked the {NAT} actors who worked on \" {TITLE} \" .",
        "The novel was translated into {LANG} by {PER} .",
        "Doctors from the {GOV} arrived in {CITY} on {DAY} with medical supplies .",
        "Police in {CITY} arrested {NUM} men after a bank robbery , the {AGENCY} agency said .",
        "The museum in {CITY} will show paintings by {PER} until {MONTH} .",
        "{PER} , who was born in {CITY} in {YEAR} , died on {DAY} aged {NUM} .",
        "Tourists from {COUNTRY} and {COUNTRY} filled the hotels of {CITY} this summer .",
        "The bridge linking {CITY} with {CITY} reopened after {NUM} months of repairs .",
        "Scientists at the university of {CITY} said the {NAT} study was the largest of its kind .",
        "More than {BIG} people attended the {FEST} in {CITY} on {DAY} .",
    ],
}

HEADLINES = {
    "business": ["{CO} PROFIT RISES {DEC} PCT", "{NAT} SHARES CLOSE LOWER", "{CO} TO BUY {CO}"],
    "politics": ["{COUNTRY} ELECTION SET FOR {MONTH}", "{PERL} WINS CONFIDENCE VOTE",
                 "{NAT} MINISTER VISITS {CITY}"],
    "sports": ["SOCCER - {CLUB} BEAT {CLUB}", "ATHLETICS - {PERL} WINS IN {CITY}",
               "CYCLING - {EVENT} RESULTS"],
    "general": ["FLOODS HIT {COUNTRY}", "{CITY} BRIDGE REOPENS", "{NAT} FILM WINS PRIZE"],
}

SLOT_TYPES = {"PER": "PER", "PERL": "PER", "CITY": "LOC", "COUNTRY": "LOC", "NAT": "MISC",
              "CO": "ORG", "CLUB": "ORG", "GOV": "ORG", "PARTY": "ORG", "AGENCY": "ORG",
              "COMPETITION": "ORG", "STATS": "ORG", "EVENT": "MISC", "FEST": "MISC",
              "TITLE": "MISC",
              "LANG": "MISC"}

# ----- approximate POS and chunk columns -------------------------------------------------------

POS = {
    "the": "DT", "a": "DT", "an": "DT", "this": "DT", "its": "PRP$", "his": "PRP$",
    "her": "PRP$", "their": "PRP$", "of": "IN", "in": "IN", "on": "IN", "at": "IN",
    "for": "IN", "with": "IN", "by": "IN", "from": "IN", "after": "IN", "near": "IN",
    "between": "IN", "since": "IN", "until": "IN", "through": "IN", "against": "IN",
    "before": "IN", "as": "IN", "about": "IN", "into": "IN", "ahead": "RB", "that": "IN",
    "according": "VBG", "because": "IN", "than": "IN", "to": "TO", "and": "CC", "or": "CC",
    "but": "CC", "said": "VBD", "told": "VBD", "would": "MD", "will": "MD", "is": "VBZ",
    "was": "VBD", "were": "VBD", "had": "VBD", "has": "VBZ", "have": "VBP", "be": "VB",
    "been": "VBN", "it": "PRP", "he": "PRP", "she": "PRP", "we": "PRP", "they": "PRP",
    "'s": "POS", "not": "RB", "no": "DT", "new": "JJ", "next": "JJ", "main": "JJ",
    "very": "RB", "more": "JJR", "largest": "JJS", "first": "JJ", "third": "JJ",
    "senior": "JJ", "weak": "JJ", "strong": "JJ", "heavy": "JJ", "medical": "JJ",
    "regional": "JJ", "joint": "JJ", "useful": "JJ", "unchanged": "JJ", "such": "JJ",
    "pleased": "JJ", "unlucky": "JJ", "quarterly": "JJ", "three-year": "JJ", "who": "WP",
    "are": "VBP", "stay": "VBP", "expect": "VBP", "percent": "NN", "million": "CD",
    "people": "NNS", "news": "NN", "again": "RB", "twice": "RB", "never": "RB",
    "midday": "NN", "PCT": "NN", "each": "DT", "other": "JJ", "won": "VBD", "beat": "VBD",
    "rose": "VBD", "fell": "VBD", "left": "VBD", "cut": "VBD", "led": "VBN", "sent": "VBN",
    "born": "VBN", "seen": "VBN", "held": "VBN", "broken": "JJ", "close": "VB", "open": "VB",
    "buy": "VB", "sell": "VB", "grow": "VB", "play": "VB", "show": "VB", "stand": "VB",
    "present": "VB", "accept": "VB", "comment": "VB", "replace": "VB", "visit": "VB",
    "review": "VB", "elect": "VB", "wins": "VBZ", "hit": "VBP", "set": "VBN",
    "reopens": "VBZ", "rises": "VBZ", "results": "NNS", "lower": "RBR", "quiet": "JJ",
}


def pos_of(word, in_entity, slot):
    if not in_entity:
        # Headlines are in capitals: look their words up in lower case.
        key = word.lower() if word.isupper() and len(word) > 1 and word != "PCT" else word
        if key in POS:
            return POS[key]
        if key != word:
            word = key
    if word[0].isdigit():
        return "CD"
    if not word[0].isalnum():
        return word if word in {",", ".", ":", "(", ")", "\"", "-"} else "SYM"
    if slot == "NAT" or slot == "LANG":
        return "JJ" if slot == "NAT" else "NNP"
    if in_entity or word[0].isupper():
        return "NNP"
    if word.endswith("ed"):
        return "VBD"
    if word.endswith("ing"):
        return "VBG"
    if word.endswith("ly"):
        return "RB"
    if word.endswith("s") and not word.endswith("ss"):
        return "NNS"
    return "NN"


def chunk_of(pos):
    if pos in {"DT", "PRP$", "PRP", "JJ", "JJR", "JJS", "NN", "NNS", "NNP", "NNPS", "CD", "POS",
               "WP"}:
        return "I-NP"
    if pos.startswith("VB") or pos in {"MD", "TO"}:
        return "I-VP"
    if pos == "IN":
        return "I-PP"
    if pos == "RB":
        return "I-ADVP"
    return "O"


# ----- generation ------------------------------------------------------------------------------


class Pools:
    """Per slot: the names training may use, and the names only valid/test may use."""

    def __init__(self, rng):
        def split(names, held_out_share=0.35):
            names = list(names)
            rng.shuffle(names)
            cut = int(round(len(names) * (1 - held_out_share)))
            return names[:cut], names[cut:]

        self.pools = {
            "FIRST": split(FIRST_NAMES), "LAST": split(LAST_NAMES), "CITY": split(CITIES),
            "COUNTRY": split(COUNTRIES), "NAT": split(NATIONALITIES), "CO": split(COMPANIES),
            "CLUB": split(CLUBS), "GOV": split(GOV_BODIES), "PARTY": split(PARTIES),
            "AGENCY": split(AGENCIES), "EVENT": split(EVENTS), "FEST": split(FESTIVALS), "TITLE": split(TITLES),
            "LANG": split(LANGUAGES),
        }

    def draw(self, rng, pool, split_name):
        seen, held_out = self.pools[pool]
        if split_name != "train" and rng.random() < 0.5:
            return rng.choice(held_out)
        return rng.choice(seen)


def fill(template, rng, pools, split_name, upper=False):
    """Returns (tokens, slots per token or None, entity types per token or None)."""
    tokens, slot_of, entity_of = [], [], []
    entity_id = 0
    for part in template.split():
        if part.startswith("{") and part.endswith("}"):
            slot = part[1:-1]
            text, etype = expand(slot, rng, pools, split_name)
            words = text.split()
            if upper:
                words = [w.upper() for w in words]
            entity_id += 1
            for w in words:
                tokens.append(w)
                slot_of.append(slot)
                entity_of.append((etype, entity_id) if etype else None)
        else:
            tokens.append(part)
            slot_of.append(None)
            entity_of.append(None)
    return tokens, slot_of, entity_of


def expand(slot, rng, pools, split_name):
    if slot == "PER":
        return pools.draw(rng, "FIRST", split_name) + " " + pools.draw(rng, "LAST", split_name), "PER"
    if slot == "PERL":
        return pools.draw(rng, "LAST", split_name), "PER"
    if slot == "COMPETITION":
        return "Competition Authority", "ORG"
    if slot == "STATS":
        return "Statistics Office", "ORG"
    if slot in {"CITY", "COUNTRY", "NAT", "CO", "CLUB", "GOV", "PARTY", "AGENCY", "EVENT",
                "FEST", "TITLE", "LANG"}:
        return pools.draw(rng, slot, split_name), SLOT_TYPES[slot]
    if slot == "NUM":
        return str(rng.randint(2, 95)), None
    if slot == "BIG":
        return "{:,}".format(rng.choice([100, 200, 400, 800, 1500, 3000, 5000, 10000]) *
                             rng.randint(1, 9)), None
    if slot == "DEC":
        return "{}.{}".format(rng.randint(0, 19), rng.randint(1, 9)), None
    if slot == "SCORE":
        return "{}-{}".format(rng.randint(0, 6), rng.randint(0, 6)), None
    if slot == "DAY":
        return rng.choice(DAYS), None
    if slot == "MONTH":
        return rng.choice(MONTHS), None
    if slot == "YEAR":
        return str(rng.randint(1988, 2025)), None
    if slot == "CUR":
        return rng.choice(CURRENCIES), None
    if slot == "DATE":
        return "{}-{:02d}-{:02d}".format(rng.randint(2019, 2026), rng.randint(1, 12),
                                         rng.randint(1, 28)), None
    if slot == "RANK":
        return "{}.".format(rng.randint(1, 12)), None
    if slot == "AGE":
        return "{}-year-old".format(rng.randint(21, 70)), None
    if slot == "TIME":
        return "{}:{:02d}.{:02d}".format(rng.randint(1, 2), rng.randint(0, 59), rng.randint(0, 99)), None
    raise ValueError("unknown slot " + slot)


def iob1(entity_of):
    """IOB1: I- everywhere, B- for the first token of an entity right after one of its type."""
    tags = []
    previous = None
    for e in entity_of:
        if e is None:
            tags.append("O")
        else:
            etype, eid = e
            starts = previous is None or previous[1] != eid
            if starts and previous is not None and previous[0] == etype:
                tags.append("B-" + etype)
            else:
                tags.append("I-" + etype)
        previous = e
    return tags


def sentence_lines(tokens, slot_of, entity_of):
    lines = []
    for word, slot, tag in zip(tokens, slot_of, iob1(entity_of)):
        pos = pos_of(word, tag != "O", slot)
        lines.append("{} {} {} {}".format(word, pos, chunk_of(pos), tag))
    return lines


def generate_split(split_name, count, rng, pools):
    out = []
    produced = 0
    while produced < count:
        topic = rng.choice(sorted(TOPICS))
        out.append("-DOCSTART- -X- -X- O")
        out.append("")
        document = []
        # A headline in capitals and a dateline, as news wires write them.
        headline = fill(rng.choice(HEADLINES[topic]), rng, pools, split_name, upper=True)
        document.append(headline)
        document.append(fill("{CITY} {DATE}", rng, pools, split_name, upper=True))
        templates = [t for i, t in enumerate(TOPICS[topic])
                     if split_name != "train" or i % HELD_OUT_TEMPLATE_EVERY != 0]
        for _ in range(rng.randint(3, 9)):
            document.append(fill(rng.choice(templates), rng, pools, split_name))
        document = document[:count - produced]
        for tokens, slot_of, entity_of in document:
            out.extend(sentence_lines(tokens, slot_of, entity_of))
            out.append("")
        produced += len(document)
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="verify that the committed files match what this script generates")
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    rng = random.Random(SEED)
    pools = Pools(rng)
    failed = False
    for split_name in ("train", "valid", "test"):
        text = generate_split(split_name, SIZES[split_name], rng, pools)
        path = os.path.join(here, split_name + ".txt")
        if args.check:
            with open(path, encoding="utf-8") as f:
                if f.read() != text:
                    print("differs: " + path, file=sys.stderr)
                    failed = True
        else:
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
