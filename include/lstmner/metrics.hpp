#pragma once
/// \file metrics.hpp
/// Entity-level scoring exactly as conlleval (the CoNLL shared tasks' Perl script) and seqeval
/// (the Python library) score, and their reports. Standard library only (plus tag_scheme.hpp).
/// docs/metrics.md lists every rule and every place where the two disagree, with examples.
///
/// Public API:
///   ScoringMode { Conlleval (default), Seqeval (seqeval's default mode), SeqevalStrict }
///   ScoringOptions { mode, scheme (strict mode only; nullopt = detect like seqeval) }
///   extract_entities(tags, options) -> std::vector<Entity> {type, begin, end (exclusive)}
///   evaluate(gold, predicted, options) -> EvaluationReport   (one tag sequence per sentence)
///   EvaluationReport: per_type (sorted by type), micro / macro / weighted averages, token
///     accuracy, gold / predicted / correct entity counts, token counts. Scores are fractions.
///   ConllevalCounter: conlleval's streaming state machine (add(gold, predicted), add_boundary())
///   Scorer: evaluate() one token at a time (add(gold, predicted), end_sentence(), report())
///   read_prediction_file(istream, name, options): conlleval's input format, line by line
///   format_conlleval(report), format_seqeval(report, digits), to_json(report)
///   analyze(gold, predicted, tokens, options) -> ErrorAnalysis: tag confusion matrix, entity
///     error classes per type (each gold and each predicted entity counted once), the error
///     listing, breakdowns by entity length, sentence length and training words
///   format_analysis(analysis, max_errors), to_json(analysis, max_errors)
///   paired_bootstrap(gold, a, b, options) -> BootstrapComparison: F1(A) - F1(B) with a
///     percentile interval and a two-sided p-value, resampling sentences with a fixed seed
///
/// Conlleval mode is a line-for-line port of conlleval's chunk logic (startOfChunk, endOfChunk
/// and its "inCorrect" bookkeeping), so that counts agree on every input, well-formed or not;
/// format_conlleval() prints its report byte for byte. Seqeval mode ports seqeval's
/// get_entities() (default) and Tokens.entities (mode='strict'), its set-based matching, its
/// averages, and classification_report()'s table.
///
/// The pieces, one concept per header under metrics/:
///   metrics/scoring_options.hpp    ScoringMode, ScoringOptions
///   metrics/report.hpp             PRF, TypeScores, EvaluationReport
///   metrics/conlleval_counter.hpp  ConllevalCounter
///   metrics/scorer.hpp             Scorer
///   metrics/evaluate.hpp           extract_entities, evaluate
///   metrics/prediction_file.hpp    read_prediction_file
///   metrics/format.hpp             format_conlleval, format_seqeval, to_json
///   metrics/analysis.hpp           EntityOutcome, ErrorAnalysis, analyze
///   metrics/analysis_format.hpp    format_analysis, to_json(ErrorAnalysis)
///   metrics/bootstrap.hpp          BootstrapOptions, BootstrapComparison, paired_bootstrap
/// and what is not public API, under metrics/detail/:
///   conlleval_chunks.hpp           conlleval's tag split, endOfChunk, startOfChunk
///   seqeval_chunks.hpp             seqeval's default mode (get_entities)
///   seqeval_strict.hpp             seqeval's strict mode (Tokens.entities, auto_detect)
///   (each port also as a state machine over one tag at a time, which the Scorer runs; seqeval's
///   set-based matching becomes matching entities as they end, at the same token)
///   scores.hpp, numpy_sum.hpp      precision / recall / F1 and averages, numpy's summation
///   text.hpp, json.hpp             printf, UTF-8 widths and JSON text for the formatters

#include <lstmner/metrics/analysis.hpp>
#include <lstmner/metrics/analysis_format.hpp>
#include <lstmner/metrics/bootstrap.hpp>
#include <lstmner/metrics/conlleval_counter.hpp>
#include <lstmner/metrics/evaluate.hpp>
#include <lstmner/metrics/format.hpp>
#include <lstmner/metrics/prediction_file.hpp>
#include <lstmner/metrics/report.hpp>
#include <lstmner/metrics/scorer.hpp>
#include <lstmner/metrics/scoring_options.hpp>
