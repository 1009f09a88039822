#!/usr/bin/env bash
# Regenerates the announcement clips under assets/voice/ with espeak-ng and sox.
#
#   bash assets/voice/generate.sh
#
# Every clip is 22050 Hz, mono, 16-bit PCM, trimmed of leading and trailing silence and
# normalised. The display inserts its own gaps between clips, so a clip holds only the word.
# Mandarin uses espeak-ng's `cmn-latn-pinyin` voice (pinyin with tone digits): its `cmn` / `zh`
# voices read the tone digits as English numbers. Letters are spoken with the English voice in
# both sets, as Chinese announcements read ticket letters by their English names.
# To use a recorded voice instead, replace the files keeping their names (see README.md).
#
#   bash assets/voice/generate.sh guide    # only the kiosk's guidance clips (guide_*)
set -euo pipefail
cd "$(dirname "$0")"

RATE=22050
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# say VOICE SPEED OUT TEXT
say() {
    local voice=$1 speed=$2 out=$3 text=$4
    espeak-ng -v "$voice" -s "$speed" -w "$tmp/raw.wav" "$text"
    sox "$tmp/raw.wav" -r "$RATE" -c 1 -b 16 "$out" \
        silence 1 0.02 1% reverse silence 1 0.02 1% reverse norm -3
}

mkdir -p zh-CN en

# The kiosk's spoken guidance (numbers come from the announcement clips below).
guide() {
    local ZH="cmn-latn-pinyin" EN="en-us"
    say "$ZH" 130 zh-CN/guide_choose_service.wav "qing3 xuan3 ze2 ban4 li3 de5 ye4 wu4"
    say "$ZH" 130 zh-CN/guide_take_ticket.wav "qing3 qu3 zou3 nin2 de5 hao4 piao4"
    say "$ZH" 130 zh-CN/guide_ahead.wav "nin2 qian2 mian4 hai2 you3"
    say "$ZH" 130 zh-CN/guide_ren.wav "ren2"
    say "$ZH" 130 zh-CN/guide_watch_calls.wav "qing3 liu2 yi4 jiao4 hao4"
    say "$ZH" 130 zh-CN/guide_not_printed.wav "yi3 wei4 nin2 pai2 dui4. hao4 piao4 wei4 neng2 da3 yin4, qing3 ji4 zhu4 nin2 de5 hao4 ma3"
    say "$ZH" 130 zh-CN/guide_paper_end.wav "da3 yin4 ji1 que1 zhi3"
    say "$ZH" 130 zh-CN/guide_cover_open.wav "da3 yin4 ji1 gai4 wei4 guan1"
    say "$ZH" 130 zh-CN/guide_printer_error.wav "da3 yin4 ji1 gu4 zhang4"
    say "$ZH" 130 zh-CN/guide_printer_offline.wav "da3 yin4 ji1 li2 xian4"
    say "$ZH" 130 zh-CN/guide_printer_silent.wav "da3 yin4 ji1 wu2 xiang3 ying4"
    say "$ZH" 130 zh-CN/guide_printer_link.wav "da3 yin4 ji1 lian2 jie1 gu4 zhang4"
    say "$ZH" 130 zh-CN/guide_call_staff.wav "qing3 lian2 xi4 gong1 zuo4 ren2 yuan2"
    say "$EN" 145 en/guide_choose_service.wav "Please choose a service"
    say "$EN" 145 en/guide_take_ticket.wav "Please take your ticket"
    say "$EN" 145 en/guide_ahead.wav "People ahead of you:"
    say "$EN" 145 en/guide_watch_calls.wav "Please listen for your number"
    say "$EN" 145 en/guide_not_printed.wav "You are in the queue. Your ticket could not be printed. Please remember your number"
    say "$EN" 145 en/guide_paper_end.wav "The printer is out of paper"
    say "$EN" 145 en/guide_cover_open.wav "The printer cover is open"
    say "$EN" 145 en/guide_printer_error.wav "The printer has a fault"
    say "$EN" 145 en/guide_printer_offline.wav "The printer is offline"
    say "$EN" 145 en/guide_printer_silent.wav "The printer does not answer"
    say "$EN" 145 en/guide_printer_link.wav "The printer is not connected"
    say "$EN" 145 en/guide_call_staff.wav "Please ask staff for help"
}
guide
if [ "${1:-}" = guide ]; then
    echo "guidance clips written: $(find . -name 'guide_*.wav' | wc -l)"
    exit 0
fi

# Chime: two falling tones (ding-dong).
sox -n -r "$RATE" -c 1 -b 16 "$tmp/ding.wav" synth 0.45 sine 1319 fade q 0.005 0.45 0.4 vol 0.5
sox -n -r "$RATE" -c 1 -b 16 "$tmp/dong.wav" synth 0.7 sine 1047 fade q 0.005 0.7 0.65 vol 0.5
sox "$tmp/ding.wav" "$tmp/dong.wav" chime.wav

ZH="cmn-latn-pinyin"
say "$ZH" 140 zh-CN/qing.wav "qing3"
say "$ZH" 140 zh-CN/hao.wav "hao4"
say "$ZH" 140 zh-CN/dao.wav "dao4"
say "$ZH" 140 zh-CN/hao_chuangkou.wav "hao4 chuang1 kou3"
say "$ZH" 140 zh-CN/banli.wav "ban4 li3"
say "$ZH" 140 zh-CN/shi.wav "shi2"
say "$ZH" 140 zh-CN/bai.wav "bai3"
zh_digits=(ling2 yi1 er4 san1 si4 wu3 liu4 qi1 ba1 jiu3)
for d in $(seq 0 9); do
    say "$ZH" 140 "zh-CN/digit_$d.wav" "${zh_digits[$d]}"
done

EN="en-us"
say "$EN" 150 en/number.wav "Number"
say "$EN" 150 en/please_go_to_counter.wav "please go to counter"
en_digits=(zero one two three four five six seven eight nine)
for d in $(seq 0 9); do
    say "$EN" 150 "en/digit_$d.wav" "${en_digits[$d]}"
done
en_numbers=("" one two three four five six seven eight nine ten eleven twelve thirteen
    fourteen fifteen sixteen seventeen eighteen nineteen)
for n in $(seq 1 19); do
    say "$EN" 150 "en/num_$n.wav" "${en_numbers[$n]}"
done
en_tens=("" "" twenty thirty forty fifty sixty seventy eighty ninety)
for t in $(seq 2 9); do
    say "$EN" 150 "en/num_$((t * 10)).wav" "${en_tens[$t]}"
done

for l in {a..z}; do
    say "$EN" 150 "en/letter_$l.wav" "${l^^}"
    cp "en/letter_$l.wav" "zh-CN/letter_$l.wav"
done

echo "clips written: $(find . -name '*.wav' | wc -l)"
