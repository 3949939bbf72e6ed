/**
 * Implicit memory: proposes entries from what a user writes — stable preferences, identity,
 * project facts and standing instructions — by deterministic rules, in English, French, German,
 * Spanish, Chinese and Japanese.
 *
 * A message is cut into sentences (fenced code and quoted lines are left out); each sentence
 * proposes at most one entry. Matching runs on a folded copy of the sentence (lower case, Latin
 * accents removed, one UTF-16 unit for one, so offsets found in it cut the original), and every
 * rule is anchored at the start of the sentence (after fillers such as "btw", "please", "übrigens",
 * "对了", and after "remember that …") or, for Japanese, at its end: "my colleague says I prefer
 * …" or "do you know whether I prefer …" propose nothing. A sentence proposes nothing when it
 * is a question (`?`, `¿`, `吗`, `か`, an interrogative first word) or a hedge ("maybe", "I think",
 * "I don't know", "peut-être", "vielleicht", "quizás", "也许", "たぶん", …), and a preference
 * whose object is "it", "this", "that", "ça", "das", "eso", "这", "それ" … is a reaction, not a
 * preference ("I love it!").
 *
 * Scopes: identity and preferences are the user's (`user`), facts the project's (`project`).
 * Instructions are the user's — they say how this user wants the assistant to work, in every
 * project — unless they name the project ("in this repo …", "our …", "dans ce projet", "这个项目",
 * "このプロジェクト", a path or a file name): then they are the project's. "Remember that X"
 * proposes X as whatever X is, and as an instruction when X is nothing else.
 */
import type { MemoryScope } from "@weft/kernel/Events"

export type Category = "preference" | "identity" | "fact" | "instruction"

export interface Proposal {
  readonly category: Category
  readonly scope: MemoryScope
  /** The statement as the user made it: fillers and "remember that" removed, one line, no final stop. */
  readonly text: string
}

// Folding ---------------------------------------------------------------------------------------

const FOLDABLE = /[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}]/gu

const foldChar = (char: string): string => {
  const lower = char.toLowerCase()
  if (lower.length !== char.length) return char
  const bare = lower.normalize("NFD").replace(/\p{M}+/gu, "")
  return bare.length === lower.length ? bare : lower
}

/**
 * Lower case without Latin accents, the same length as `text` (UTF-16 units), so that an
 * offset in the folded text is one in `text`. Kana and Han are kept as they are (`が` stays `が`).
 */
export const fold = (text: string): string => text.replace(FOLDABLE, foldChar)

// Sentences -------------------------------------------------------------------------------------

const FENCED = /(```|~~~)[\s\S]*?(\1|$)/g
const QUOTED_LINE = /^[ \t]*>.*$/gm
const CJK_STOP = new Set(["。", "！", "？", "；", "\n"])
const LATIN_STOP = new Set([".", "!", "?", ";"])

/** The sentences of a message: code blocks and quoted lines left out, each with its final mark. */
export const sentences = (text: string): Array<string> => {
  const clean = text
    .replace(FENCED, "\n")
    .replace(QUOTED_LINE, "")
    .normalize("NFKC")
    .replace(/[‘’`´]/g, (c) => (c === "`" ? "" : "'"))
  const out: Array<string> = []
  let start = 0
  for (let i = 0; i < clean.length; i++) {
    const char = clean[i]!
    const next = clean[i + 1]
    const ends = CJK_STOP.has(char) || (LATIN_STOP.has(char) && (next === undefined || /\s/.test(next)))
    if (!ends) continue
    let end = i + 1
    while (end < clean.length && (LATIN_STOP.has(clean[end]!) || CJK_STOP.has(clean[end]!)) && clean[end] !== "\n") {
      end++
    }
    const sentence = clean.slice(start, end).trim()
    if (sentence !== "") out.push(sentence)
    start = end
    i = end - 1
  }
  const last = clean.slice(start).trim()
  if (last !== "") out.push(last)
  return out
}

// Rules -----------------------------------------------------------------------------------------

const words = (list: ReadonlyArray<string>) => list.join("|")

/** Said before the statement and dropped: fillers, politeness, "by the way". */
const FILLER = new RegExp(
  "^(?:" + words([
    "by the way",
    "btw",
    "fyi",
    "oh and",
    "and also",
    "also",
    "and",
    "so",
    "ok",
    "okay",
    "oh",
    "well",
    "hey",
    "hi",
    "actually",
    "honestly",
    "just so you know",
    "for the record",
    "for your information",
    "please",
    "pls",
    "plz",
    "au fait",
    "d'ailleurs",
    "aussi",
    "et",
    "alors",
    "bon",
    "s'il te plait",
    "s'il vous plait",
    "stp",
    "svp",
    "ubrigens",
    "ach ja",
    "und",
    "bitte",
    "por cierto",
    "ademas",
    "oye",
    "y",
    "por favor",
    "对了",
    "顺便说一下",
    "顺便说一句",
    "顺便",
    "另外",
    "还有",
    "请",
    "麻烦",
    "ちなみに",
    "あと",
    "それと",
    "あのね"
  ]) + ")(?![\\p{L}\\p{N}])[\\s,:;!、，：-]*",
  "u"
)

/** "Remember that …": what follows is to be remembered, whatever it is. */
const REMEMBER = new RegExp(
  "^(?:" + words([
    "remember that",
    "remember:",
    "remember,",
    "keep in mind that",
    "keep in mind:",
    "don't forget that",
    "do not forget that",
    "n'oublie pas que",
    "retiens que",
    "souviens-toi que",
    "rappelle-toi que",
    "merk dir,? dass",
    "merk dir:?",
    "denk daran,? dass",
    "vergiss nicht,? dass",
    "recuerda que",
    "ten en cuenta que",
    "no olvides que",
    "请记住",
    "记住",
    "记得",
    "覚えておいて[、,]?"
  ]) + ")[\\s,:、，：]*",
  "u"
)
const REMEMBER_AFTER = /(?:と|って)?(?:を)?覚えて(?:おいて|ください|下さい|おいてください|ね)*$/u

const QUESTION_START = new RegExp(
  "^(?:" + words([
    "what",
    "why",
    "how",
    "when",
    "where",
    "who",
    "whom",
    "which",
    "whose",
    "do(?! not ever)",
    "does",
    "did",
    "can",
    "could",
    "would",
    "will",
    "should",
    "shall",
    "is",
    "are",
    "was",
    "were",
    "am",
    "have",
    "has",
    "had",
    "may",
    "isn't",
    "aren't",
    "don't you",
    "doesn't",
    "didn't",
    "won't",
    "wouldn't",
    "can't",
    "couldn't",
    "shouldn't",
    "est-ce",
    "qu'est-ce",
    "pourquoi",
    "comment",
    "quand",
    "ou est",
    "ou sont",
    "quel",
    "quelle",
    "quels",
    "quelles",
    "combien",
    "peux-tu",
    "pourrais-tu",
    "pouvez-vous",
    "sais-tu",
    "as-tu",
    "es-tu",
    "y a-t-il",
    "was",
    "warum",
    "wieso",
    "weshalb",
    "wie",
    "wann",
    "wo",
    "wer",
    "wen",
    "wem",
    "welche[rsmn]?",
    "kannst",
    "konnen sie",
    "konntest",
    "weisst du",
    "weißt du",
    "gibt es",
    "ist es",
    "bist du",
    "hast du",
    "puedes",
    "podrias",
    "sabes",
    "hay",
    "que",
    "por que",
    "como",
    "cuando",
    "donde",
    "quien",
    "cual"
  ]) + ")(?![\\p{L}\\p{N}'-])",
  "u"
)
const QUESTION_CJK =
  /(?:什么|为什么|怎么|哪|是否|是不是|有没有|能不能|可不可以|要不要|好不好|对不对|なぜ|どうして|どうやって|何を|何が|何の|どこ|どれ|どの|誰|いくつ|いつ(?!も))/u
const QUESTION_END = /(?:[?？]|[吗嗎呢]|(?:です|ます|でしょう|ません|の|ん)?か|かな|かしら|っけ)$/u

const HEDGE = new RegExp(
  "(?:^|[^\\p{L}\\p{N}])(?:" + words([
    "maybe",
    "perhaps",
    "probably",
    "possibly",
    "i think",
    "i guess",
    "i suppose",
    "i believe",
    "not sure",
    "don't know",
    "do not know",
    "dunno",
    "no idea",
    "i wonder",
    "might be",
    "kind of",
    "sort of",
    "peut-etre",
    "peut etre",
    "probablement",
    "je pense que",
    "je crois que",
    "je ne sais pas",
    "je sais pas",
    "pas sur",
    "pas certain",
    "il se peut",
    "sans doute",
    "vielleicht",
    "wahrscheinlich",
    "eventuell",
    "moglicherweise",
    "ich glaube",
    "ich denke",
    "ich weiss nicht",
    "ich weiß nicht",
    "keine ahnung",
    "nicht sicher",
    "quizas",
    "quiza",
    "tal vez",
    "a lo mejor",
    "probablemente",
    "creo que",
    "no se",
    "no estoy segur[oa]",
    "puede que",
    "supongo"
  ]) +
    ")(?![\\p{L}\\p{N}])|也许|可能|大概|或许|不知道|不确定|我觉得|我想|好像|应该是|说不定|たぶん|多分|かもしれ|と思|わからな|分からな|わかりませ|分かりませ|おそらく|恐らく|気がする",
  "u"
)

/** What a reaction points at: "I love it", "j'aime ça", "me gusta eso", "我喜欢这个", "それが好き". */
const DEICTIC = new RegExp(
  "^(?:(?:" + words([
    "it",
    "this",
    "that",
    "these",
    "those",
    "you",
    "your",
    "them",
    "him",
    "her",
    "ca",
    "cela",
    "ceci",
    "ce",
    "cette",
    "ces",
    "toi",
    "vous",
    "das",
    "es",
    "dies",
    "diese[rsmn]?",
    "dich",
    "dir",
    "ihn",
    "eso",
    "esto",
    "esta",
    "este",
    "esa",
    "ese",
    "lo",
    "te"
  ]) + ")(?![\\p{L}\\p{N}])|这|那|它|你|これ|それ|あれ|この|その|あの|あなた)",
  "u"
)

const PROFESSION = "(?:develop|entwickl|desarroll|engineer|ingenieu|ingenier|programm|programad|student|etudiant|" +
  "estudiant|design|disen|research|chercheu|forsch|investigad|teacher|professeu|profesor|lehrer|architect|" +
  "architekt|arquitect|admin|manager|scientist|scientifique|cientific|wissenschaft|devops|sre|consultant|" +
  "consultor|berater|freelanc|analyst|analista|maintain|mainteneu|founder|fondateu|grunder|fundador|cto|ceo|" +
  "doctor|docteu|arzt|medecin|medico|nurse|infirmi|lawyer|avocat|anwalt|abogad|writer|ecrivain|schriftsteller|" +
  "escritor|artist|kunstler|product|data)"

interface Rule {
  readonly category: Category
  readonly pattern: RegExp
  /**
   * Where a reaction would show: "object", what follows the match ("I love |it"), or "subject",
   * the start of the statement ("それ|が好き").
   */
  readonly reaction?: "object" | "subject"
}

const rule = (category: Category, source: string, reaction?: "object" | "subject"): Rule =>
  reaction === undefined
    ? { category, pattern: new RegExp(source, "u") }
    : { category, pattern: new RegExp(source, "u"), reaction }

/** The end of a word, and its start (`\\b` knows ASCII only). */
const B = "(?![\\p{L}\\p{N}])"
const BB = "(?<![\\p{L}\\p{N}])"
const EN_ADVERBS = "(?: (?:really|strongly|much|generally|usually|definitely|honestly|just|still|also|always|" +
  "totally|do|personally|very much|truly|absolutely|far|tend to|have come to))*"

/**
 * Preferences first ("I'm a fan of" is not an identity), then identity, facts and instructions.
 * Made on first use (`RULES`): compiling a hundred Unicode patterns costs ~10 ms, which every
 * command of the CLI would otherwise pay at start-up, most never extracting anything.
 */
const makeRules = (): ReadonlyArray<Rule> => [
  // Preferences.
  rule(
    "preference",
    `^i(?:'ve| have|'ll| will)?${EN_ADVERBS} (?:prefer(?:red|s)?|lik(?:e|ed)|lov(?:e|ed)|hat(?:e|ed)|dislik(?:e|ed)|` +
      `detest(?:ed)?|enjoy(?:ed)?|favou?r(?:ed)?|can't stand|cannot stand|can not stand|(?:don't|do not) ` +
      `(?:like|love|enjoy|care for))${B}\\s*`,
    "object"
  ),
  rule("preference", `^i(?:'d| would)(?: much| really| always| still)? (?:rather|prefer)${B}\\s*`, "object"),
  rule("preference", `^i(?:'m| am) (?:not )?(?:a )?(?:big |huge |great )?fan of${B}\\s*`, "object"),
  rule("preference", `^my (?:favou?rite|preferred|preference)${B}`),
  rule(
    "preference",
    `^(?!(?:it|this|that)${B}).+ (?:is|are) (?:my|the) (?:preference|favou?rite|preferred (?:one|choice|option))${B}`
  ),
  rule("preference", `^(?!(?:it|this|that)${B}).+ is what i (?:prefer|like)${B}`),
  rule(
    "preference",
    `^(?:je |j')(?:ne |n')?(?:ai (?:toujours |souvent )?)?(?:prefere|preferais|prefererais|aime|aimais|adore|` +
      `deteste|apprecie|supporte|kiffe)(?: pas| plus| guere)?(?: (?:bien|beaucoup|mieux|plutot|vraiment|toujours|` +
      `davantage))*${B}\\s*`,
    "object"
  ),
  rule("preference", `^(?:ma preference|mon [\\p{L}-]+ prefere|ma [\\p{L}-]+ preferee)${B}`),
  rule("preference", `^(?!(?:ca|cela|c'est)${B}).+,? c'est (?:ma preference|mon prefere|ma preferee)${B}`),
  rule(
    "preference",
    `^ich (?:(?:bevorzuge|mag|liebe|hasse|verabscheue|nutze lieber|verwende lieber|benutze lieber|arbeite lieber|` +
      `habe lieber|ziehe))(?: (?:lieber|immer|wirklich|eher|sehr|kein|keine|keinen))*${B}\\s*`,
    "object"
  ),
  rule("preference", `^ich habe (?:schon |bisher )?immer${B}.*${B}(?:bevorzugt|gemocht|geliebt)${B}`),
  rule("preference", `^(?:mir gefallt|mir gefallen|meine? (?:lieblings[\\p{L}-]+|praferenz|vorliebe))${B}`),
  rule("preference", `^(?!(?:das|es)${B}).+ (?:ist|sind) (?:mir lieber|meine (?:praferenz|vorliebe))${B}`),
  rule(
    "preference",
    `^(?:yo )?(?:(?:siempre )?(?:prefiero|preferiria|he preferido(?: siempre)?)|(?:no )?(?:me|nos) ` +
      `(?:gusta|gustan|encanta|encantan)(?: mas| mucho)?|odio|detesto|adoro)${B}\\s*`,
    "object"
  ),
  rule("preference", `^mi (?:preferencia|[\\p{L}-]+ (?:favorit[oa]|preferid[oa]))${B}`),
  rule("preference", `^(?!(?:eso|esto)${B}).+ (?:es|son) (?:mi preferencia|mis? favorit[oa]s?)${B}`),
  rule(
    "preference",
    "^我(?:个人)?(?:比较|更|真的|很|非常|最|一直|还是|通常|特别|都|也|本来就)*(?:喜欢|偏好|偏爱|倾向于?|爱用|讨厌|不喜欢|宁愿|宁可|习惯(?:用)?)",
    "object"
  ),
  rule("preference", "^我的(?:偏好|首选|最爱)|是我的(?:首选|偏好|最爱)"),
  rule(
    "preference",
    "(?:が|の方が|のほうが|は)(?:大?好き|大?嫌い|苦手)(?:です|だ|でした|なんです|なんだ)?(?:ね|よ|よね)?$",
    "subject"
  ),
  rule("preference", "(?:を好(?:む|みます|んでいます)|派(?:です|だ)?)(?:ね|よ)?$", "subject"),
  // Identity.
  rule("identity", `^my name(?:'s| is)${B}`),
  rule("identity", `^call me${B}`),
  rule("identity", `^i(?:'m| am) called${B}|^i go by${B}`),
  rule("identity", `^i(?:'m| am) (?:a|an) (?!(?:bit|little|lot|tad|fan|big fan|huge fan)${B})`),
  rule("identity", `^i(?:'m| am) (?:the |a |an )?(?:[\\p{L}-]+ )?${PROFESSION}\\p{L}*(?<!ing|eln|ern)${B}`),
  rule("identity", `^i work (?:at|for|as|in|on|with)${B}`),
  rule("identity", `^i(?:'m| am) (?:from|based in|located in|living in)${B}|^i live in${B}|^i speak${B}`),
  rule(
    "identity",
    `^my (?:pronouns|role|job|job title|title|timezone|time zone|email|github|username|handle|company|team|` +
      `employer|native language|first language|mother tongue|location)(?:'s| is| are)${B}`
  ),
  rule("identity", `^je m'appelle${B}|^(?:mon nom|mon prenom) (?:est|c'est)${B}|^appelle[- ]moi${B}|^on m'appelle${B}`),
  rule("identity", `^je suis (?:un|une) (?!peu${B})|^je suis (?:[\\p{L}-]+ )?${PROFESSION}\\p{L}*(?<!ing|eln|ern)${B}`),
  rule(
    "identity",
    `^je travaille (?:chez|a|pour|comme|dans|sur|en tant que)${B}|^j'habite${B}|^je vis (?:a|en|au)${B}|` +
      `^je viens (?:de|du|d')|^je suis (?:base|basee|originaire)${B}|^je parle${B}`
  ),
  rule("identity", `^mon (?:role|poste|metier|fuseau horaire|email|pseudo|equipe|entreprise) (?:est|c'est)${B}`),
  rule("identity", `^ich hei(?:ss|ß)e${B}|^mein name ist${B}|^nenn(?:t)? mich${B}`),
  rule("identity", `^ich bin (?:ein|eine) |^ich bin (?:[\\p{L}-]+ )?${PROFESSION}\\p{L}*(?<!ing|eln|ern)${B}`),
  rule(
    "identity",
    `^ich arbeite (?:bei|fur|als|an|in|im|mit)${B}|^ich wohne${B}|^ich lebe in${B}|^ich komme aus${B}|` +
      `^ich spreche${B}|^meine? (?:rolle|zeitzone|e-mail|email|firma|team|muttersprache) ist${B}`
  ),
  rule("identity", `^me llamo${B}|^mi nombre es${B}|^llamame${B}`),
  rule("identity", `^soy (?:un|una) |^soy (?:[\\p{L}-]+ )?${PROFESSION}\\p{L}*(?<!ing|eln|ern)${B}|^soy de${B}`),
  rule(
    "identity",
    `^trabajo (?:en|para|como|de|con)${B}|^vivo en${B}|^hablo${B}|` +
      `^mi (?:rol|puesto|zona horaria|correo|empresa|equipo|idioma) es${B}`
  ),
  rule("identity", "^我叫|^我的名字(?:是|叫)|^叫我|^我是(?:一名|一个|一位|个|名)"),
  rule(
    "identity",
    "^我是\\S*(?:工程师|开发者|开发人员|程序员|学生|老师|教师|设计师|研究员|医生|经理|架构师|维护者|作者|创始人)"
  ),
  rule("identity", "^我是\\S{1,4}人$|^我在\\S+(?:工作|上班)|^我住在|^我来自|^我的(?:职位|角色|时区|邮箱|工作|母语)是"),
  rule("identity", "^(?:私|僕|俺|わたし|ぼく|自分)の名前は"),
  rule("identity", "^(?:私|僕|俺|わたし|ぼく)は(?!.*(?:大丈夫|元気|平気|結構|い)です).+(?:です|だ)$"),
  rule(
    "identity",
    "(?:と申します|と呼んで(?:ください|下さい)?|で働いています|で働いてます|に勤めています|に住んでいます)$"
  ),
  // Project facts.
  rule(
    "fact",
    `^we(?:'ve| have)?(?: (?:always|never|usually|generally|mostly|mainly|only|currently|also|now|all))* ` +
      `(?:use|deploy|run|host|build|ship|store|keep|write|follow|target|support|prefer|rely on|depend on|` +
      `don't use|do not use|develop|release|publish|work with|call|name|squash|rebase|format|lint|used(?! to))${B}`
  ),
  rule("fact", `^we(?:'re| are) (?:using|deploying|hosting|building|targeting|running|on)${B}`),
  rule(
    "fact",
    `^(?:this|the|our) (?:project|repo|repository|codebase|monorepo|workspace)(?:'s [\\p{L}-]+)? ` +
      `(?:uses|is|runs|lives|has|needs|requires|depends|targets|deploys|builds|relies|supports|follows|` +
      `should|must|contains|keeps|stores)${B}`
  ),
  rule(
    "fact",
    `^our [\\p{L}\\p{N}-]+(?: [\\p{L}\\p{N}-]+){0,3} (?:is|are|uses|use|runs|run|lives|live|has|have|needs|` +
      `requires|goes|deploys|targets)${B}`
  ),
  rule(
    "fact",
    `^(?:on|nous) (?:utilise|utilisons|se sert|nous servons|deploie|deployons|heberge|hebergeons|` +
      `travaille avec|travaillons avec|suit|suivons|cible|ciblons|lance|lancons)${B}`
  ),
  rule(
    "fact",
    `^(?:ce|le|notre) (?:projet|depot|repo|code|monorepo|service|application|appli) ` +
      `(?:utilise|est|tourne|depend|cible|a besoin|se trouve|repose)${B}`
  ),
  rule(
    "fact",
    `^(?:notre|nos) [\\p{L}-]+(?: [\\p{L}'-]+){0,3} (?:est|sont|utilise|utilisent|tourne|tournent|se trouve)${B}`
  ),
  rule("fact", `^chez nous${B}`),
  rule(
    "fact",
    `^wir (?:nutzen|verwenden|benutzen|deployen|hosten|setzen|bauen|testen|folgen|arbeiten mit|schreiben)${B}`
  ),
  rule(
    "fact",
    `^(?:dieses|das|unser) (?:projekt|repo|repository|monorepo) (?:nutzt|verwendet|benutzt|ist|lauft|lebt|` +
      `braucht|hangt|basiert)${B}`
  ),
  rule(
    "fact",
    `^(?:unser|unsere|unseren) [\\p{L}-]+(?: [\\p{L}-]+){0,3} (?:ist|sind|lauft|laufen|nutzt|verwendet|liegt|liegen)${B}`
  ),
  rule("fact", `^bei uns${B}`),
  rule(
    "fact",
    `^(?:nosotros )?(?:usamos|utilizamos|desplegamos|alojamos|seguimos|trabajamos con|ejecutamos|construimos)${B}`
  ),
  rule(
    "fact",
    `^(?:este|el|nuestro) (?:proyecto|repo|repositorio|codigo|monorepo|servicio) ` +
      `(?:usa|utiliza|es|corre|depende|necesita|esta)${B}`
  ),
  rule(
    "fact",
    `^(?:nuestro|nuestra|nuestros|nuestras) [\\p{L}-]+(?: [\\p{L}-]+){0,3} (?:es|son|esta|estan|usa|usan|corre|corren)${B}`
  ),
  rule("fact", "^我们(?:一直|都|总是|通常|主要|现在|也)*(?:用|使用|采用|在用|部署|托管|依赖)"),
  rule("fact", "^(?:这个|本|该)?(?:项目|仓库|代码库)(?:里|中)?(?:用|使用|采用|是|依赖|基于|部署|运行)"),
  rule("fact", "^我们的\\S+(?:是|在|用|使用|运行)"),
  rule(
    "fact",
    "^(?:この|本|うちの|私たちの|我々の|弊社の)(?:プロジェクト|リポジトリ|レポジトリ|コードベース|サービス|アプリ|チーム)" +
      "(?:は|では|で).+(?:です|ます|である|だ)$"
  ),
  rule("fact", "^(?:うちの|私たちの|我々の|弊社の)\\S+は.+(?:です|ます|である|だ)$"),
  rule(
    "fact",
    "^(?:私たちは|我々は|うちでは|弊社では).+(?:を使っています|を使ってます|を使用しています|を採用しています)$"
  ),
  // Instructions.
  rule(
    "instruction",
    `^(?:always|never|never ever|don't ever|do not ever|under no circumstances|make sure (?:to |you )?(?:always|never)|` +
      `you (?:must|should) (?:always|never)|from now on|going forward|in (?:the )?future|henceforth|` +
      `whenever you|every time you|each time you|i (?:always )?want you to (?:always|never)|` +
      `i don't want you to ever|i never want you to)${B}`
  ),
  rule("instruction", `${BB}(?:from now on|going forward|henceforth|at all times)${B}`),
  rule(
    "instruction",
    `^(?:toujours|jamais|ne jamais|desormais|dorenavant|a partir de maintenant|a l'avenir|a chaque fois que tu|` +
      `chaque fois que tu|il faut toujours|il ne faut jamais|tu dois toujours|tu ne dois jamais|` +
      `je veux que tu (?:toujours|jamais))${B}`
  ),
  rule("instruction", `^(?:ne |n')[\\p{L}-]+ jamais${B}`),
  rule(
    "instruction",
    `^(?!(?:je|j'|tu|il|elle|on|nous|vous|ils|elles|c'est|ce|ca|cela|comme)${B})[\\p{L}'-]+ (?:toujours|jamais)${B}`
  ),
  rule("instruction", `${BB}(?:desormais|dorenavant|a partir de maintenant)${B}`),
  rule(
    "instruction",
    `^(?:immer|nie|niemals|ab jetzt|von nun an|ab sofort|kunftig|zukunftig|in zukunft|jedes mal,? wenn du|` +
      `du (?:musst|sollst|solltest) (?:immer|nie|niemals)|ich will,? dass du)${B}`
  ),
  rule(
    "instruction",
    `^(?!(?:ich|du|er|sie|es|wir|ihr|das|der|die|dies|man|wie)${B})[\\p{L}-]+ (?:immer|nie|niemals)${B}`
  ),
  rule("instruction", `${BB}(?:ab jetzt|von nun an|ab sofort)${B}`),
  rule(
    "instruction",
    `^(?:siempre|nunca|jamas|a partir de ahora|de ahora en adelante|en adelante|en el futuro|cada vez que|` +
      `quiero que (?:siempre|nunca))${B}`
  ),
  rule(
    "instruction",
    `^(?!(?:yo|tu|el|ella|nosotros|ellos|ellas|usted|eso|esto|es|esta|lo|la|me|te|se|como)${B})(?:no )?` +
      `[\\p{L}-]+ (?:siempre|nunca|jamas)${B}`
  ),
  rule("instruction", `${BB}(?:a partir de ahora|de ahora en adelante)${B}`),
  rule(
    "instruction",
    "^(?:总是|永远|始终|一定要|务必|必须|每次|千万|绝对|任何时候|无论如何|从现在开始|从今以后|从现在起|不要再|别再|再也不要)"
  ),
  rule("instruction", "(?:以后|今后|从现在开始|从今以后|从现在起)(?:都|请|要|不要|别|一律|一定|全部|统一)"),
  rule(
    "instruction",
    "^(?:いつも|常に|必ず|絶対に?|決して|今後は?|これからは?|今から|以後|毎回|二度と)" +
      ".*(?:(?:て|で)(?:ください|下さい|ね|ほしい|欲しい)?|ように|こと|べき|ないで(?:ください|下さい)?|ません|ない|るな)$"
  )
]

let rules: ReadonlyArray<Rule> | undefined
const RULES = (): ReadonlyArray<Rule> => rules ??= makeRules()

/** Says that a statement is about now, not a lasting fact: "our tests are failing", "the repo is broken today". */
const TRANSIENT = new RegExp(
  `(?:^|[^\\p{L}\\p{N}])(?:broken|down|failing|failed|wrong|slow|flaky|crashing|crashed|stuck|missing|not working|` +
    `fixed|merged|today|yesterday|right now|this morning|at the moment|casse|cassee|en panne|kaputt|heute|` +
    `gerade|roto|rota|hoy|ahora mismo)${B}|今天|现在坏|坏了|今日|壊れ`,
  "u"
)

const PROJECT_PREFIX = new RegExp(
  "^(?:" + words([
    "in (?:this|our|the) (?:project|repo|repository|codebase|monorepo)",
    "for (?:this|our|the) (?:project|repo|repository|codebase|monorepo)",
    "dans (?:ce|le|notre) (?:projet|depot|repo|code)",
    "pour (?:ce|le|notre) (?:projet|depot|repo)",
    "in diesem (?:projekt|repo|repository)",
    "fur dieses (?:projekt|repo)",
    "en este (?:proyecto|repo|repositorio)",
    "para este (?:proyecto|repo|repositorio)",
    "在(?:这个|本)(?:项目|仓库)(?:里|中)?",
    "(?:この|本)(?:プロジェクト|リポジトリ)(?:では|で)"
  ]) + ")[\\s,:、，：]*",
  "u"
)

const PROJECT_MARKER = new RegExp(
  `(?:^|[^\\p{L}\\p{N}])(?:(?:this|the|our) (?:project|repo|repository|codebase|monorepo|workspace)|in here|our|` +
    `(?:ce|le|notre) (?:projet|depot|repo|code)|notre|nos|ici|(?:dieses|diesem|das|dem|unser\\p{L}*) ` +
    `(?:projekt|repo|repository)|unser\\p{L}*|hier|(?:este|el|nuestro) (?:proyecto|repo|repositorio)|nuestr[oa]s?|` +
    `aqui)${B}|(?:这个|本|该)(?:项目|仓库)|项目里|仓库里|我们的|(?:この|本)(?:プロジェクト|リポジトリ)|うちの|私たちの|ここでは|` +
    `(?:^|\\s)(?:\\.{0,2}/|[\\w.-]+/)[\\w./-]+|[\\w-]+\\.(?:ts|tsx|js|jsx|mjs|cjs|json|md|py|rs|go|java|kt|rb|` +
    `yaml|yml|toml|sh|css|html|sql)${B}`,
  "u"
)

// Extraction ------------------------------------------------------------------------------------

const MAX_SENTENCE = 300

const trimEnd = (text: string) => text.replace(/[\s.!。！;；,，、:：…~〜]+$/u, "")

/**
 * One line, no surrounding quotes or emphasis, no final stop; capitalised when the sentence was
 * ("Please always use …" → "Always use …", while "pnpm is my preference" keeps its `pnpm`).
 */
const tidy = (text: string, capital: boolean): string => {
  const line = trimEnd(text.replace(/\s+/g, " ").replace(/^[\s"'«“「『*_-]+|[\s"'»”」』*_]+$/gu, "").trim())
  return capital ? line.replace(/^\p{Ll}/u, (c) => c.toUpperCase()) : line
}

const hasContent = (text: string) => (text.match(/[\p{L}\p{N}]/gu)?.length ?? 0) >= 2

const classify = (folded: string): Category | undefined => {
  for (const { category, pattern, reaction } of RULES()) {
    const match = pattern.exec(folded)
    if (match === null) continue
    if (reaction === "object") {
      const rest = folded.slice(match.index + match[0].length)
      if (!hasContent(rest) || DEICTIC.test(rest)) return undefined
    } else if (reaction === "subject" && (!hasContent(folded.slice(0, match.index)) || DEICTIC.test(folded))) {
      return undefined
    }
    return category
  }
  return undefined
}

const proposalOf = (sentence: string): Proposal | undefined => {
  if (sentence.length > MAX_SENTENCE) return undefined
  const folded = fold(sentence)
  let at = 0
  let remembered = false
  let projectNamed = false
  for (;;) {
    const rest = folded.slice(at)
    const filler = FILLER.exec(rest)?.[0] ?? ""
    const remember = filler === "" ? REMEMBER.exec(rest)?.[0] ?? "" : ""
    const prefix = filler === "" && remember === "" ? PROJECT_PREFIX.exec(rest)?.[0] ?? "" : ""
    const skip = filler.length + remember.length + prefix.length
    if (skip === 0) break
    if (remember !== "") remembered = true
    if (prefix !== "") projectNamed = true
    at += skip
  }
  const tail = trimEnd(folded.slice(at))
  const rememberAfter = REMEMBER_AFTER.exec(tail)
  if (rememberAfter !== null && rememberAfter.index > 0) remembered = true
  const end = at + (rememberAfter !== null && rememberAfter.index > 0 ? rememberAfter.index : tail.length)
  const statement = folded.slice(at, end)
  const text = tidy(sentence.slice(at, end), /^[\s"'«“*_-]*\p{Lu}/u.test(sentence))
  if (!hasContent(text)) return undefined
  if (sentence.includes("¿") || QUESTION_START.test(statement) || QUESTION_CJK.test(statement)) return undefined
  if (QUESTION_END.test(trimEnd(statement).replace(/["'”」』)]+$/u, ""))) return undefined
  if (HEDGE.test(statement)) return undefined
  const found = classify(trimEnd(statement))
  // "In this repo, …" is a fact about it; "remember that …" an instruction, when nothing more precise.
  const category = found ?? (projectNamed ? "fact" : remembered ? "instruction" : undefined)
  if (category === undefined) return undefined
  if ((category === "fact" || category === "identity") && TRANSIENT.test(statement)) return undefined
  const scope: MemoryScope = category === "fact"
    ? "project"
    : category === "instruction"
    ? projectNamed || PROJECT_MARKER.test(statement) ? "project" : "user"
    : "user"
  return { category, scope, text }
}

/**
 * The entries a user message proposes, one at most per sentence, in the order of the message
 * (a statement made twice is proposed once). Questions, hedges, reactions and small talk propose
 * nothing.
 */
export const extract = (text: string): ReadonlyArray<Proposal> => {
  const out: Array<Proposal> = []
  const seen = new Set<string>()
  for (const sentence of sentences(text)) {
    const proposal = proposalOf(sentence)
    if (proposal === undefined || seen.has(proposal.text)) continue
    seen.add(proposal.text)
    out.push(proposal)
  }
  return out
}
