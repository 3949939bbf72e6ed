/**
 * When two memories say the same thing: the one place that decides it, so that a better
 * analyser (`Analyzer.terms`, with real stemming) can replace `terms` without touching the
 * projection.
 *
 * A statement's content is its terms less the words that only frame it — pronouns, articles,
 * "prefer", "always", "use", "please", "我更喜欢", "の方が好き" — in the six languages the
 * extractor knows: "I like pnpm better than npm", "Please always use pnpm instead of npm",
 * "Je préfère pnpm à npm" and "我更喜欢pnpm而不是npm" are all `{npm, pnpm}`. Host names, paths
 * and versions stay whole (`staging.example.com` is one term, not `staging`, `example`, `com`).
 * Latin words lose plural and verb endings (`spaces` → `spac`, `using` → `us`); kana runs, which
 * are grammar in Japanese, are dropped. Two statements are the same when the Dice coefficient of
 * their term sets reaches `threshold`.
 */
import { fold, tokenize } from "../Tokenizer.js"

/** Words that frame a statement rather than say what it is about, by language. */
const STOP_WORDS: ReadonlyArray<string> = [
  // English
  "i me my mine myself we us our ours you your it its this that these those the a an and or but to of " +
  "in on at for with by from as than then over instead rather better more less not no do does did dont " +
  "doesnt didnt is are am be been being was were ive id im ill thats always never ever please use using " +
  "used uses prefer preferred prefers preferring like likes liked love loved hate hated dislike " +
  "disliked enjoy enjoyed favorite favourite favor favour preference preferences want would should must " +
  "can cannot cant will just really very much also still so all any every each now going forward future " +
  "henceforth make sure remember keep mind note time times whenever have has had fan big huge great one " +
  "choice option stand project repo repository codebase here there call name called personally " +
  "generally usually definitely honestly truly absolutely tend come what which who when btw way " +
  "anything else",
  // French
  "je j tu il elle on nous vous ils elles me m te t se s le la les l un une des du de d a au aux et ou " +
  "mais que qu qui ce cet cette ces c est sont suis es ai as avons mon ma mes ton ta notre nos votre " +
  "pour par avec dans sur en plutot pas ne n jamais toujours prefere preferes preferer preferais " +
  "prefererais aime aimer adore deteste utilise utiliser utilisons mieux plus bien beaucoup vraiment " +
  "desormais dorenavant partir maintenant avenir chaque fois faut dois veux projet depot appelle nom " +
  "travaille chez stp svp plait rappelle souviens retiens oublie lieu place",
  // German
  "ich du er sie es wir ihr mich mir dich dir uns mein meine meinen unser unsere der die das den dem " +
  "des ein eine einen und oder aber statt anstatt als lieber immer nie niemals nicht kein keine bitte " +
  "bevorzuge bevorzugen bevorzugt mag mogen liebe hasse nutze nutzen verwende verwenden benutze " +
  "benutzen fur mit von zu im auf ist sind bin bist habe hat ab jetzt nun an sofort heisse heiße " +
  "projekt vor ziehe gefallt praferenz vorliebe auch sehr wirklich eher schon bisher",
  // Spanish
  "yo el ella nosotros nos mi mis su nuestro nuestra los las unos y o pero del al con por para lugar " +
  "vez mas menos muy mucho prefiero preferir preferiria gusta gustan encanta odio siempre nunca jamas " +
  "usa usar usamos uso utiliza utilizamos son soy esta estoy llamo nombre proyecto repositorio ahora " +
  "adelante favor preferencia favorito favorita"
].flatMap((words) => words.split(" "))

/** Framing words of Chinese and Japanese, removed from the text before it is split into characters. */
const CJK_STOP = (
  "而不是 倾向于 从现在开始 从今以后 我们的 不是 我们 我的 你们 这个 那个 比较 非常 一直 还是 通常 总是 永远 始终 不要 使用 采用 喜欢 偏好 偏爱 倾向 讨厌 宁愿 宁可 习惯 以后 " +
  "今后 一定 务必 必须 每次 千万 绝对 记住 记得 名字 一名 一个 一位 首选 没有 项目 仓库 我 你 他 她 它 这 那 的 了 是 在 和 与 或 而 更 很 最 别 请 用 都 要 叫 个 " +
  "也 就 会 把 被 给 对 从 到 比 不 プロジェクト リポジトリ 名前 大好 今後 毎回 絶対 使用 採用 私 僕 俺 自分 好 嫌 方 派 使 決 常 必 覚 申 呼 下"
).split(" ").sort((a, b) => b.length - a.length)

const CJK_STOP_PATTERN = new RegExp(CJK_STOP.join("|"), "g")
const HIRAGANA = /\p{Script=Hiragana}+/gu
/** Host names, paths, e-mails and versions: one term each. */
const ATOM = /[\p{L}\p{N}_-]+(?:[./@:][\p{L}\p{N}_-]+)+/gu
/** French and Italian elisions: `j'aime` → `j aime`, `l'équipe` → `l équipe`. */
const ELISION = /(?<![\p{L}\p{N}])(c|d|j|l|m|n|s|t|qu|jusqu|lorsqu|puisqu)['’](?=\p{L})/giu
const LATIN_WORD = /^[a-z]+$/

/** A light stemmer for Latin words: plural and verb endings, doubled consonants and a final `e`. */
export const stem = (word: string): string => {
  if (!LATIN_WORD.test(word) || word.length < 4) return word
  let w = word
  if (w.endsWith("ies") && w.length > 4) w = w.slice(0, -3) + "y"
  else if (w.endsWith("sses")) w = w.slice(0, -2)
  else if (w.endsWith("s") && !/(?:ss|us|is)$/.test(w)) w = w.slice(0, -1)
  const suffix = /(?:ing|ed)$/.exec(w)
  if (suffix !== null && w.length - suffix[0].length >= 3) {
    w = w.slice(0, suffix.index)
    if (/([b-df-hj-km-np-tv-z])\1$/.test(w) && !/(?:ll|ss|zz)$/.test(w)) w = w.slice(0, -1)
  }
  if (w.endsWith("e") && w.length > 3) w = w.slice(0, -1)
  return w
}

const STOP = new Set(STOP_WORDS.flatMap((word) => [word, stem(word)]))

/** The content terms of a statement: sorted, each once. */
export const terms = (text: string): ReadonlyArray<string> => {
  const out = new Set<string>()
  const rest = text
    .normalize("NFKC")
    .toLowerCase()
    .replace(ATOM, (atom) => {
      out.add(fold(atom))
      return " "
    })
    .replace(ELISION, "$1 ")
    .replace(CJK_STOP_PATTERN, " ")
    .replace(HIRAGANA, " ")
  for (const term of tokenize(rest)) {
    const stemmed = stem(term)
    if (!STOP.has(term) && !STOP.has(stemmed)) out.add(stemmed)
  }
  return Array.from(out).sort()
}

/** The Dice coefficient of two sorted term lists: 1 when equal, 0 when disjoint (or both empty). */
export const similarity = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): number => {
  if (a.length === 0 || b.length === 0) return 0
  let common = 0
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      common++
      i++
      j++
    } else if (a[i]! < b[j]!) i++
    else j++
  }
  return (2 * common) / (a.length + b.length)
}

/** The similarity from which two statements are one (a paraphrase, or the same fact restated). */
export const threshold = 0.6

/** Whether two statements, given by their terms, say the same thing. */
export const same = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean => similarity(a, b) >= threshold
